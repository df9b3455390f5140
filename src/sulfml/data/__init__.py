"""Data: the pinned public sources and their fetcher, one loader per source, and the merged, validated table."""
