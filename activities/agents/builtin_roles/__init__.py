"""Built-in agent roles, one markdown file each (the same format repositories use)."""
