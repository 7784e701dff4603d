"""Dashboard tests (a package, so test modules may share base names with other test folders)."""
