"""Published outputs: reports built aside, then swapped in atomically as a release."""
