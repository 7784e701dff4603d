"""A small threaded TCP proxy on loopback that a test can cut and restore, to take a database "away".

``cut()`` closes the listening socket (new connections are refused at once, as when a server is down) and
closes both ends of every open connection (clients see their connection drop mid-query). ``restore()``
listens again on the same port. ``lose_reply_after(b"INSERT INTO x", b"COMMIT")`` arms a one-shot trap:
the first connection whose client sends those in order has the server's answer to the last one thrown
away and is then closed: the server did the work (committed) but the client never hears of it.
Only loopback addresses are ever used.
"""

from __future__ import annotations

import selectors
import socket
import threading


class TcpProxy:
    """Forward 127.0.0.1:<port> to *upstream*; ``cut()`` and ``restore()`` switch it off and on."""

    def __init__(self, upstream: tuple[str, int], port: int = 0) -> None:
        if not upstream[0].startswith("127.") and upstream[0] not in ("localhost", "::1"):
            raise ValueError("the test proxy only forwards to loopback addresses")
        self.upstream = upstream
        self.port = port
        self._lock = threading.Lock()
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        self._listener: socket.socket | None = None
        self._accepting: threading.Thread | None = None
        self.connections = 0  # accepted in total, for the test's figures
        self._trap: tuple[bytes, ...] = ()
        self.replies_lost = 0
        self.url = ""  # set by whoever knows what the upstream speaks (the fixture: a database URL)

    # ------------------------------------------------------------------ control

    def start(self) -> "TcpProxy":
        """Listen (on a free port the first time, on the same port after a cut)."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        listener.settimeout(0.1)  # the accept loop checks every 0.1 s whether it was cut
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._accepting = threading.Thread(target=self._accept_loop, args=(listener,), name="tcpproxy-accept",
                                           daemon=True)
        self._accepting.start()
        return self

    restore = start

    def cut(self) -> None:
        """Refuse new connections and drop every open one."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        if self._accepting is not None:
            self._accepting.join(2)
        with self._lock:
            pairs, self._pairs = self._pairs, set()
        for pair in pairs:
            _close_pair(pair)

    stop = cut

    def lose_reply_after(self, *markers: bytes) -> None:
        """Arm the one-shot trap described in the module docstring."""
        self._trap = markers

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._pairs)

    # ------------------------------------------------------------------ threads

    def _accept_loop(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except socket.timeout:
                continue
            except OSError:  # closed by cut()
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            client.settimeout(None)
            server.settimeout(None)
            pair = (client, server)
            with self._lock:
                if self._listener is not listener:  # cut while we were connecting upstream
                    _close_pair(pair)
                    return
                self._pairs.add(pair)
                self.connections += 1
            threading.Thread(target=self._pump, args=(pair,), name="tcpproxy-pump", daemon=True).start()

    def _pump(self, pair: tuple[socket.socket, socket.socket]) -> None:
        """Copy bytes both ways until either side closes (or cut() closes both)."""
        client, server = pair
        peer = {client: server, server: client}
        seen = 0  # how many of the trap's markers this connection's client has sent, in order
        muted = False  # trap sprung: the server's next answer is swallowed, then the connection closed
        with selectors.DefaultSelector() as sel:
            try:
                sel.register(client, selectors.EVENT_READ)
                sel.register(server, selectors.EVENT_READ)
                while True:
                    for key, _ in sel.select(timeout=0.5):
                        data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                        if not data:
                            return
                        if key.fileobj is server and muted:
                            with self._lock:
                                self.replies_lost += 1
                            return  # the server has answered (so it did the work); the client never hears
                        if key.fileobj is client and self._trap:
                            seen = self._advance(seen, data)
                            muted = seen == len(self._trap) and self._spring()
                        peer[key.fileobj].sendall(data)  # type: ignore[index]
                    if client.fileno() < 0 or server.fileno() < 0:
                        return
            except (OSError, ValueError):  # closed under us by cut()
                return
            finally:
                with self._lock:
                    self._pairs.discard(pair)
                _close_pair(pair)


    def _advance(self, seen: int, data: bytes) -> int:
        """How many markers have been sent once *data* is (markers split across reads are not found)."""
        trap, at = self._trap, 0
        while seen < len(trap):
            at = data.find(trap[seen], at)
            if at < 0:
                break
            at += len(trap[seen])
            seen += 1
        return seen

    def _spring(self) -> bool:
        with self._lock:
            if not self._trap:
                return False  # another connection got there first
            self._trap = ()
            return True


def _close_pair(pair: tuple[socket.socket, socket.socket]) -> None:
    for sock in pair:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()
