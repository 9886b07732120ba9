"""The edges: the only code that awaits sockets or wraps a library (AMI, FastAGI, AudioSocket,
Vosk, audio, the event bus, storage), and the clock."""
