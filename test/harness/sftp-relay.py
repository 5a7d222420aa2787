#!/usr/bin/python3
"""A relay in front of OpenSSH's sftp-server, run by the test sshd as its sftp Subsystem: forwards the SFTP
packet stream both ways (draft-ietf-secsh-filexfer-02 section 3: uint32 length, byte type, uint32 id, ...)
and breaks chosen replies, as a hostile or broken server would:
  --poison MARKER    every request whose packet contains MARKER is answered with a zero-length packet;
  --poison-version-if FILE   while FILE exists, the server's VERSION reply is a zero-length packet instead.
Everything stops when either side closes."""
import os
import select
import subprocess
import sys

SFTP_SERVER = '/usr/lib/openssh/sftp-server'
SSH_FXP_INIT, SSH_FXP_VERSION = 1, 2
ZERO_LENGTH = b'\0\0\0\0'


def packets(buffer):
    """Splits whole packets off the front of buffer: (packets, rest)."""
    out = []
    while len(buffer) >= 4:
        length = int.from_bytes(buffer[:4], 'big')
        if len(buffer) < 4 + length:
            break
        out.append(buffer[:4 + length])
        buffer = buffer[4 + length:]
    return out, buffer


def read_packets(stream, pending):
    """Reads what `stream` has: (whole packets, rest), or (None, pending) at end of input."""
    data = os.read(stream.fileno(), 65536)
    return (None, pending) if not data else packets(pending + data)


def main():
    args = sys.argv[1:]
    marker = args[args.index('--poison') + 1].encode() if '--poison' in args else None
    version_flag = args[args.index('--poison-version-if') + 1] if '--poison-version-if' in args else None
    server = subprocess.Popen([SFTP_SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    client_in, client_out = sys.stdin.buffer.raw, sys.stdout.buffer.raw
    server_in, server_out = server.stdin, server.stdout.raw
    poisoned = set()
    from_client, from_server = b'', b''
    while True:
        ready, _, _ = select.select([client_in, server_out], [], [])
        if client_in in ready:
            whole, from_client = read_packets(client_in, from_client)
            if whole is None:
                break
            for packet in whole:
                if marker is not None and packet[4] != SSH_FXP_INIT and marker in packet[9:]:
                    poisoned.add(packet[5:9])
                server_in.write(packet)
            server_in.flush()
        if server_out in ready:
            whole, from_server = read_packets(server_out, from_server)
            if whole is None:
                break
            for packet in whole:
                if packet[4] == SSH_FXP_VERSION and version_flag is not None and os.path.exists(version_flag):
                    packet = ZERO_LENGTH
                elif packet[4] != SSH_FXP_VERSION and packet[5:9] in poisoned:
                    poisoned.discard(packet[5:9])
                    packet = ZERO_LENGTH
                client_out.write(packet)
    server.kill()
    server.wait()


if __name__ == '__main__':
    main()
