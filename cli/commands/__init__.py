"""Sub-commands of ``capconnect``: thin wrappers that parse options and call the library."""
