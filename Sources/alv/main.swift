// The `alv` command: parses arguments and hands off to the libraries.
AlvMain.run()
