"""RFC 4733 (RFC 2833) DTMF as a pcap that SIPp's ``play_pcap_audio`` sends as RTP.

SIPp's shipped captures all carry the same RTP timestamp, and a receiver treats an event with
the timestamp of the previous one as its continuation: a second key press would be ignored.
Each press we generate has its own timestamp, sequence numbers and the end-of-event packets.
"""

from __future__ import annotations

import struct

DTMF_EVENTS = {**{str(d): d for d in range(10)}, "*": 10, "#": 11}
PAYLOAD_TYPE = 101
PACKET_MS = 20
SAMPLES_PER_PACKET = 160  # 20 ms at 8 kHz
_PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)  # Ethernet


def _ip_checksum(header: bytes) -> int:
    total: int = sum(struct.unpack("!10H", header))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def _frame(rtp: bytes) -> bytes:
    udp = struct.pack("!HHHH", 6000, 6000, 8 + len(rtp), 0) + rtp
    ip = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
        bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1]),
    )
    ip = ip[:10] + struct.pack("!H", _ip_checksum(ip)) + ip[12:]
    return b"\x00" * 12 + b"\x08\x00" + ip + udp


def dtmf_pcap(key: str, *, press_index: int, ssrc: int, tone_ms: int = 200) -> bytes:
    """One key press: events every 20 ms for ``tone_ms``, then three end packets."""
    if key not in DTMF_EVENTS:
        raise ValueError(f"not a DTMF key: {key!r}")
    event = DTMF_EVENTS[key]
    timestamp = (press_index + 1) * 80_000 & 0xFFFFFFFF
    seq = (press_index * 64) & 0xFFFF
    steps = max(1, tone_ms // PACKET_MS)
    packets = []
    for i in range(steps + 3):
        end = i >= steps
        duration = SAMPLES_PER_PACKET * min(i + 1, steps)
        marker = 0x80 if i == 0 else 0
        rtp = struct.pack(
            "!BBHII", 0x80, marker | PAYLOAD_TYPE, (seq + i) & 0xFFFF, timestamp, ssrc
        ) + struct.pack("!BBH", event, (0x80 if end else 0) | 10, duration)
        packets.append(rtp)
    out = bytearray(_PCAP_HEADER)
    for i, rtp in enumerate(packets):
        frame = _frame(rtp)
        usec = i * PACKET_MS * 1000
        out += struct.pack("<IIII", usec // 1_000_000, usec % 1_000_000, len(frame), len(frame))
        out += frame
    return bytes(out)
