"""The speech service: speech turns on live calls (AudioSocket, Vosk, intents)."""
