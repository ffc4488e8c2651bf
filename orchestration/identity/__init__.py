"""One person per child: linkage, person keys, and the pseudonymised analytics tier."""
