"""Link shortener: turns long URLs into short codes."""
