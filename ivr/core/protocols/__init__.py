"""Wire formats, pure: AGI, the AMI mapping and AudioSocket framing (bytes in, events out)."""
