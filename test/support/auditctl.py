#!/usr/bin/env python3
"""What an admin's auditctl (or an attacker) does to a running agent, over the audit netlink
socket (this machine has no auditctl): `delete-keysentry-rules` is `auditctl -D` restricted to
rules with a keysentry key; `disable` is `auditctl -e 0`. Prints how many rules it deleted."""
import socket
import struct
import sys

NETLINK_AUDIT = 9
AUDIT_SET, AUDIT_LIST_RULES, AUDIT_DEL_RULE = 1001, 1013, 1012
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_ACK = 0x1, 0x4
HEADER = "=IHHII"


def send(sock, msg_type, payload, flags, seq):
    sock.send(struct.pack(HEADER, 16 + len(payload), msg_type, flags, seq, 0) + payload)


def messages(sock):
    sock.settimeout(2.0)
    while True:
        data = sock.recv(65536)
        off = 0
        while off + 16 <= len(data):
            length, msg_type, _flags, seq, _pid = struct.unpack_from(HEADER, data, off)
            yield msg_type, seq, data[off + 16:off + max(length, 16)]
            off += (max(length, 16) + 3) & ~3


def wait_ack(sock, seq):
    for msg_type, got, payload in messages(sock):
        if msg_type == NLMSG_ERROR and got == seq:
            err = struct.unpack_from("=i", payload)[0]
            if err != 0:
                raise SystemExit(f"audit request failed: errno {-err}")
            return


def filter_key(rule):
    field_count = struct.unpack_from("=I", rule, 8)[0]
    fields = struct.unpack_from(f"={field_count}I", rule, 12 + 256)
    values = struct.unpack_from(f"={field_count}I", rule, 12 + 512)
    buf = rule[12 + 1024 + 4:]
    offset = 0
    for field, value in zip(fields, values):
        # AUDIT_FILTERKEY 210, AUDIT_WATCH 105, AUDIT_DIR 107, AUDIT_EXE 112, LSM fields 13-20
        if field in (210, 105, 107, 112) or 13 <= field <= 20:
            if field == 210:
                return buf[offset:offset + value].decode()
            offset += value
    return ""


def main():
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_AUDIT)
    sock.bind((0, 0))
    if sys.argv[1] == "disable":
        status = struct.pack("=11I", 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)  # mask AUDIT_STATUS_ENABLED, enabled 0
        send(sock, AUDIT_SET, status, NLM_F_REQUEST | NLM_F_ACK, 1)
        wait_ack(sock, 1)
        print(0)
        return
    send(sock, AUDIT_LIST_RULES, b"", NLM_F_REQUEST, 1)
    ours = []
    for msg_type, _seq, payload in messages(sock):
        if msg_type == NLMSG_DONE:
            break
        if msg_type == AUDIT_LIST_RULES and filter_key(payload).startswith("keysentry"):
            ours.append(payload)
    for i, rule in enumerate(ours):
        send(sock, AUDIT_DEL_RULE, rule, NLM_F_REQUEST | NLM_F_ACK, 2 + i)
        wait_ack(sock, 2 + i)
    print(len(ours))


main()
