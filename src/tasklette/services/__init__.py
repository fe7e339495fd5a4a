"""Services: the rules of Tasklette, one module per noun.

A service function takes the database, the acting user and plain values; it
checks permissions, writes the change and its event in one transaction, and
returns plain data. Web pages, the JSON API and the CLI all call these.
"""
