from tasklette.cli import main

main()
