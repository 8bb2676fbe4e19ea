#!/usr/bin/env python3
"""A loopback HTTP/1.1 server with awkward habits, for the transport tests.

usage: http_edge.py MODE [CERT KEY]
Prints its port as the first line, then serves until killed; with CERT and
KEY (PEM files) it speaks TLS. Every answer carries "x-conn: N", the number
of the connection it came on (from 1), and echoes the request body.

Modes:
  plain       Content-Length answers, connection kept alive
  chunked     Transfer-Encoding: chunked with an extension and a trailer
  close       no Content-Length: the body ends when the connection closes
  split       the answer dribbles out in small pieces
  slow        each answer after 150 ms (requests in flight at once need
              connections of their own)
  continue    a "100 Continue" interim answer first
  idle-close  keep-alive answers, but the connection is closed 100 ms after
              each one (a server's idle timeout)
  silent      reads the request and never answers
  truncated   promises 100 bytes, sends 10, closes
  garbage     answers with something that is not HTTP
  big-head    answers with 100 KB of headers
"""
import socket
import ssl
import sys
import threading
import time

MODE = sys.argv[1]
CERT = sys.argv[2] if len(sys.argv) > 3 else None
KEY = sys.argv[3] if len(sys.argv) > 3 else None
LOCK = threading.Lock()
STATE = {"conns": 0}


def read_request(f):
    line = f.readline()
    if not line:
        return None
    length = 0
    while True:
        h = f.readline()
        if h in (b"\r\n", b"\n", b""):
            break
        name, _, value = h.decode().partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    return f.read(length) if length else b""


def answer(conn, f, n, body):
    reply = b'{"echo":' + str(len(body)).encode() + b',"conn":' + str(n).encode() + b"}"
    head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nx-conn: %d\r\n" % n
    if MODE == "chunked":
        conn.sendall((head + "Transfer-Encoding: chunked\r\n\r\n").encode())
        for i in range(0, len(reply), 7):
            part = reply[i:i + 7]
            conn.sendall(b"%x;ext=1\r\n%s\r\n" % (len(part), part))
        conn.sendall(b"0\r\nx-trailer: yes\r\n\r\n")
        return True
    if MODE == "close":
        conn.sendall((head + "Connection: close\r\n\r\n").encode() + reply)
        return False
    if MODE == "truncated":
        conn.sendall((head + "Content-Length: 100\r\n\r\n").encode() + reply[:10])
        return False
    if MODE == "garbage":
        conn.sendall(b"SURPRISE\r\n\r\n")
        return False
    if MODE == "big-head":
        conn.sendall((head + ("x-filler: %s\r\n" % ("f" * 1000)) * 100 + "Content-Length: 0\r\n\r\n").encode())
        return True
    data = (head + "Content-Length: %d\r\n\r\n" % len(reply)).encode() + reply
    if MODE == "continue":
        conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
    if MODE == "slow":
        time.sleep(0.15)
    if MODE == "split":
        for i in range(0, len(data), 5):
            conn.sendall(data[i:i + 5])
            time.sleep(0.002)
        return True
    conn.sendall(data)
    if MODE == "idle-close":
        time.sleep(0.1)
        return False
    return True


def serve(conn):
    with LOCK:
        STATE["conns"] += 1
        n = STATE["conns"]
    try:
        f = conn.makefile("rb")
        while True:
            body = read_request(f)
            if body is None:
                break
            if MODE == "silent":
                time.sleep(30)
                break
            if not answer(conn, f, n, body):
                break
    except (OSError, ssl.SSLError):
        pass
    finally:
        try:
            conn.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        conn.close()


def main():
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(128)
    ctx = None
    if CERT:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(CERT, KEY)
    print(srv.getsockname()[1], flush=True)
    while True:
        conn, _ = srv.accept()
        if ctx:
            try:
                conn = ctx.wrap_socket(conn, server_side=True)
            except (OSError, ssl.SSLError):
                conn.close()
                continue
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
