"""Web accounts: generated passwords, argon2 hashing, the first admin."""
