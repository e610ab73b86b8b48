"""The release loop's side effects: is the build integrated, scanners, reports, tracker rows."""
