"""The test bed: Asterisk in a chroot, SIPp phones, test calls. Product code never imports it."""
