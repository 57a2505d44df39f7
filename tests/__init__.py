"""The test suite. A package, so that its sub-packages (tests.public...) never shadow an
installed module of the same name (aiosmtpd imports `public`, from atpublic)."""
