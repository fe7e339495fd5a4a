"""Storage: the only package that knows SQL. One module per noun."""
