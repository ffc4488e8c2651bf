"""Schools: careers from reception to year 11, the termly school census, attendance, exclusions and
key stage results."""
