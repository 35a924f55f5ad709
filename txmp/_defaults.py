# -*- test-case-name: txmp.test.test_defaults -*-
"""
Every default and tuning constant of txmp, each defined once: the defaults
of the command-line options of C{twistd mpfront} and C{twistd mphandler}
(their public interface: see C{docs/deployment.md}), and the sizes and
times chosen inside the front and the handler.  Where a benchmark chose a
value, its comment names the section of C{docs/benchmarks.md} with the
figures and the commands that measure it.

The modules that use a value import it from here, under the same name, so
C{txmp._front.SEND_LIMIT} and C{txmp._defaults.SEND_LIMIT} are the same
constant.  To measure another value without editing the code
(C{benchmarks/bigbody.py --variant LABEL:txmp._defaults.NAME=VALUE}),
set it here before the other modules are imported: this module imports
nothing of txmp, so that every module then takes the value set.

An option that is off by default (C{--spawn 0}, C{--max-requests 0}, an
address or file not given) keeps its C{0} or L{None} where it is
declared: there is nothing to tune.
"""

from __future__ import annotations

import platform

KiB = 1024
MiB = 1024 * KiB

# -- Addresses -----------------------------------------------------------

# The ZeroMQ addresses a front binds and its handlers connect to, when
# none is given (mpfront/mphandler --send, --return).
DEFAULT_SEND = "tcp://127.0.0.1:5556"
DEFAULT_RETURN = "tcp://127.0.0.1:5555"

# The HTTP endpoint a front listens on when none is given (mpfront --listen).
DEFAULT_LISTEN = "tcp:8080"

# -- The front: dispatching requests to handlers ---------------------------

# Seconds to wait for a handler's reply before answering 504 (--timeout).
DEFAULT_TIMEOUT = 30.0

# Seconds a request may wait for a handler with capacity: then 503
# (--queue-timeout).
DEFAULT_QUEUE_TIMEOUT = 10.0

# How many requests may wait for a handler: more get 503 (--max-queue).
DEFAULT_MAX_QUEUE = 1000

# Seconds between heartbeats, of the front and of a handler (mpfront and
# mphandler --heartbeat); a peer silent for 3 is dead (docs/protocol.md,
# section 6).
DEFAULT_HEARTBEAT = 1.0

# The shortest heartbeat: --heartbeat under it is refused at start-up, and a
# handler takes a front's WELCOME heartbeat under it as this.  A heartbeat
# of nanoseconds (a front's WELCOME said 1e-18 in a helper's fuzzing) had a
# handler send HELLO or PING at every turn of its reactor: 288,000 in 5 s,
# a core busy.
MIN_HEARTBEAT = 0.01

# A front's check of its handlers' silence that runs more than this many
# seconds after it was due finds the front itself was not running (a pause:
# garbage collection, swap, SIGSTOP, a virtual machine's stolen time): what
# the handlers sent meanwhile waits unread in its sockets, and a check run
# before the reactor reads it would declare live handlers dead (their
# finished POSTs 502, their GETs run twice; a helper's fault test, SIGSTOP
# to a front for 3.5 s).  It gives them one more heartbeat instead.  A
# timer that runs on time no more than this many seconds after another
# found a pause finds it too (txmp._deadlines.PauseWatch).  A reactor's
# timers run a few milliseconds late under load; one later than this costs
# only that heartbeat.
LIVENESS_LATENESS = 0.05

# Response-body bytes a handler may send for one request before the client
# has taken them (mpfront --window): docs/benchmarks.md, "Window" and then
# "Held writes and a 2 MiB window", measured with benchmarks/bigbody.py.
DEFAULT_WINDOW = 2 * MiB

# Response-body window is granted back to a handler once this share of the
# window (a half) is owed, while the other half keeps the pipe full.  Fewer
# WINDOW messages than with quarters; alone, the difference is within this
# machine's noise (docs/benchmarks.md, "Fewer messages, fewer copies, larger
# sends" and "Held writes and a 2 MiB window", with the commands).
GRANT_DIVISOR = 2

# The most credits a handler may hold at a front: a HELLO or CREDIT
# claiming more is an invalid message, and a front drops a CREDIT that
# would take a handler's count beyond it (docs/protocol.md, section 5).
# Far above any sensible thread pool (txmp's handler refuses a larger
# --threads), it bounds what one peer on the send socket can claim, which
# once was 10**18 credits: every request.
MAX_CREDITS = 1000

# Spawned handlers that exit before they join, one after the other, this
# many times: the front gives up (as gunicorn's "Worker failed to boot").
BOOT_FAILURES = 3

# A --spawn handler that exits before it joined (its application fails as it
# loads, or soon after) is restarted after a delay that doubles at each such
# exit in a row, from 1 s (procmon's minRestartDelay) up to this many
# seconds: a broken deployment, while other handlers serve, would otherwise
# be started again and again, taking a core.  One that exits after it joined
# is restarted at once, as gunicorn restarts a worker.
SPAWN_RESTART_MAX_DELAY = 60

# A --spawn handler declared dead for its silence is killed (SIGKILL) if it
# has not joined again --timeout seconds later, or this many heartbeats if
# that is longer: a front whose reactor is starved for a while finds every
# handler silent, and a short --timeout must not get them all killed.
SILENT_KILL_HEARTBEATS = 10

# A --spawn handler whose process exited (a crash, the OOM killer, kill -9)
# is declared dead this many seconds later, not after three heartbeats of
# silence: its requests retried (or failed) at once, none sent to it
# meanwhile.  The wait is for what it sent before it exited, already in the
# front's socket, to be read first.
SPAWN_EXITED_GRACE = 0.25

# Seconds to finish the requests in progress when stopping (SIGTERM), for
# a front and its --spawn handlers, and for a handler (--graceful-timeout).
DEFAULT_GRACEFUL_TIMEOUT = 30.0

# A front stopping waits for its --spawn handlers to exit: for at most this
# many seconds after SIGKILL (a process the kernel has not reaped by then,
# stuck in an uninterruptible wait, is left behind, and said so) ...
SPAWN_REAP_MARGIN = 5.0

# ... and, once one has exited, for at most this many seconds more for the
# rest of its output, unless a process it started still holds its pipes.
SPAWN_OUTPUT_GRACE = 1.0

# -- The front: HTTP ------------------------------------------------------

# The largest request body, in bytes: a larger one gets 413 (--max-body).
DEFAULT_MAX_BODY = 1 << 30

# Seconds from the first byte of a request to the end of its head: then
# 408 (--header-timeout).
DEFAULT_HEADER_TIMEOUT = 15.0

# Seconds a connection may stay open with no request (--idle-timeout).
DEFAULT_IDLE_TIMEOUT = 15.0

# The longest request line, in bytes: a longer one gets 414
# (--max-request-line; Apache's LimitRequestLine).
DEFAULT_MAX_REQUEST_LINE = 8190

# The most header fields in a request: more get 431 (--max-headers).
DEFAULT_MAX_HEADERS = 100

# The most bytes of header fields in a request: more get 431
# (--max-header-bytes).
DEFAULT_MAX_HEADER_BYTES = 16 * KiB

# The most client connections open at once (--max-connections): at this
# many a new client takes the place of the connection idle the longest,
# and with none idle the front stops accepting, and clients wait in the
# listen backlog.
# 0: the file descriptor limit (whose soft value the front raises to the
# hard one) less FD_RESERVE, or half of it if that is more
# (txmp._accept.defaultMaxConnections).
DEFAULT_MAX_CONNECTIONS = 0

# File descriptors kept, below the limit, for what is not a client
# connection: ZeroMQ's sockets and its handlers' connections, the logs,
# the stats port's clients, spawned handlers' pipes.  Counted in
# /proc/PID/fd of an idle `mpfront --spawn 4 --stats ... --access-log FILE`
# (2026-12-02): 44 in all, of which each spawned handler takes 5 (3 pipes,
# its 2 ZeroMQ connections) and a handler started apart 2: 256 leaves room
# for about 40 spawned handlers or 100 remote ones.
FD_RESERVE = 256

# The most connections the --stats port holds open at once: a new one past
# them takes the place of the oldest of the address with the most open,
# aborted for it (so a client flooding it closes its own).  Probes
# and scrapers need a few (a kubelet's two probes, Prometheus's kept-alive
# connection, a load balancer's checks); without a bound, clients of the
# port, each trickling a head, took every descriptor of a front started
# with `prlimit --nofile=256` (300 of them, 2026-12-07): its HTTP port then
# reset new clients, and handlers could not connect.  Out of FD_RESERVE.
STATS_MAX_CONNECTIONS = 16

# Seconds between two warnings that the front is at --max-connections.
MAX_CONNECTIONS_LOG_INTERVAL = 60.0

# At --max-connections, a new client takes the place of a connection idle
# since its last response for at least this many seconds (closed for it).
# Not one idle for less: its client is likely to send its next request at
# once, and would find the connection closed under it (30 clients looping
# on kept-alive connections at --max-connections 10 saw a quarter of their
# requests fail so, 2026-12-05); a browser's connections wait for longer.
RECLAIM_IDLE = 2.0

# A connection closed for a new one is aborted if it is not gone within
# this many seconds: a TLS connection waits for its client's close_notify,
# which a pooled client that reads nothing does not send (ABORT_TIMEOUT
# would hold its descriptor 15 s).  And at most RECLAIM_PENDING of them may
# be closing at once: each holds a descriptor beyond --max-connections,
# which FD_RESERVE leaves room for.
RECLAIM_ABORT = 1.0
RECLAIM_PENDING = 16

# File descriptors a client connection may never take, whatever
# --max-connections says: one given a descriptor this close to the open
# files limit is closed at once, and the front stops accepting until a
# connection closes (or DESCRIPTOR_RETRY has passed), its batches kept
# below them.  They are for ZeroMQ to accept handlers' connections, and
# for spawned handlers' pipes (5 descriptors a spawned handler, 2 a remote
# one: six spawned handlers started again at once, or 16 remote ones
# connecting).  libzmq 4.3.5 aborts the whole front when it cannot accept
# an ipc:// connection for want of a descriptor (ipc_listener.cpp:297,
# "Too many open files"): a front at prlimit --nofile=128 with
# --max-connections 300 and 200 idle clients died so when one of its
# --spawn handlers (ipc:// by default) was started again (2026-12-07);
# over tcp:// its I/O thread spins on accept() instead.
DESCRIPTOR_MARGIN = 32
DESCRIPTOR_RETRY = 1.0

# The listen backlog of a --listen or --stats endpoint that names none
# (backlog= in the string): nginx's default (gunicorn's is 2,048), where
# Twisted's is 50, which a burst of new connections overflows (the kernel
# drops the rest, and their clients try again 1 s later, then 3 s).  The
# kernel caps it at net.core.somaxconn (4,096 since Linux 5.4).
DEFAULT_BACKLOG = 511

# A request body must be received within this many seconds of reading
# time (R.U.D.Y.: a body trickled to hold a handler's thread;
# --body-timeout).
DEFAULT_BODY_TIMEOUT = 60.0

# Lingering close, as nginx's lingering_time, lingering_timeout: after an
# answer to a request whose body is still coming, what the client sends is
# read and discarded for at most LINGER_TIME seconds in all, LINGER_TIMEOUT
# seconds without a byte, and LINGER_BYTES bytes beyond the rest of the body
# its Content-Length declared, so that a client still sending reads the
# answer instead of a connection reset.
DEFAULT_LINGER_TIME = 30.0
DEFAULT_LINGER_TIMEOUT = 5.0
DEFAULT_LINGER_BYTES = 16 * MiB

# The longest chunk-size line (with its extensions), as Twisted's.
MAX_CHUNK_LINE = 1024

# A body of known length up to this size is read whole and sent with the
# request, in one message; larger ones, and chunked ones, are streamed.
SMALL_BODY = 64 * KiB

# The most bytes of pipelined requests kept while a response is awaited:
# past this, reading from the client pauses.
PIPELINE_BUFFER = 64 * KiB

# The most a client connection sends in one send() call (Twisted's default
# is 128 KiB), for plain TCP connections.  Every call is a turn of the
# reactor: a large response, which reaches the front in messages of up to
# 256 KiB, costs fewer turns this way (docs/benchmarks.md, "Fewer messages,
# fewer copies, larger sends", with the commands that measure it).
SEND_LIMIT = 512 * KiB

# The largest write the front sends at once, before the reactor's turn
# (txmp._eager.eagerWrite); a larger one goes to the transport whole.
# What the socket does not take at once of an eager send is copied for
# the transport (a bytes slice): for a body returned whole, nearly all of
# it (a 200 MB response grew the front's peak RSS by 600 MB, not 400).
# Given whole, Twisted sends it through memoryviews without a copy (26.4 and
# 26.10 do; 23.10, the oldest allowed, copies it once into its buffer: still
# one copy fewer than before).
# Above SEND_LIMIT with a margin, so that the pieces of a streamed body
# (about SEND_LIMIT each) still go out at once; the turn saved is nothing
# beside such a write.
EAGER_LIMIT = 1 * MiB

# The least a slow client must take of what the front holds for it (the
# transport's buffer and the kernel's, txmp._eager.unsentBytes) within each
# --timeout to count as taking it, mid-response (its handler's thread waits
# for window meanwhile) and after (the connection is kept for it); or all
# that is left, if less.  Half of a loopback segment (its MSS is 65,483
# bytes: the kernel sends as the client's window opens, a segment or more at
# a time), 22 Ethernet segments; at the default --timeout, about 1.1 KB/s.
# A client slower than that, or trickling a few bytes per --timeout (a slow
# read attack), holds a thread, or a connection, for --timeout at most.
MIN_PROGRESS = 32 * KiB

# Seconds a closing connection may take to send what it holds before it is
# aborted (a client that reads nothing must not keep it): Twisted's
# HTTPChannel.abortTimeout.
ABORT_TIMEOUT = 15.0

# The least TCP_USER_TIMEOUT a client connection gets (else --timeout): how
# long what the front sent may go unacknowledged before the kernel ends the
# connection, its client's network gone (txmp._eager.setUserTimeout).  A
# short --timeout (1 s, to answer 504 soon) must not end living clients on
# a lossy link: four retransmissions in a row at a 1 s RTO take 1 + 2 + 4 +
# 8 s.
MIN_USER_TIMEOUT = 15.0

# The access log's formats, and the default one (--access-log-format).
ACCESS_LOG_FORMATS = ("combined", "json")
DEFAULT_ACCESS_LOG_FORMAT = "combined"

# -- ZeroMQ ---------------------------------------------------------------

# Per-peer high-water marks, in messages, of the front's and the handler's
# sockets.  Requests are bounded by credits, and replies by the front's
# credits, long before this; the mark only bounds memory if something goes
# wrong (a front that stops reading, say).
HIGH_WATER_MARK = 10000

# A handler whose heartbeat fails to run for more than this many of its
# front's intervals (it was paused: SIGSTOP, swap, a long GC), or that gets
# a REQ this long after it last heard its front (a network cut), holds the
# requests that come from then on until its front answers a HELLO sent
# then (txmp._handler.FrontLink._doubt): the front declares a handler dead
# after three silent intervals, and answers its POSTs 502 and retries its
# GETs, which must not then run here too (a helper's SIGSTOP test: a POST
# answered 502 ran when the handler was let go on).  Two, so that no
# handler is held up whose front cannot have given up on it; a held one
# waits for a round trip.
DOUBT_AFTER = 2

# While only credits wait for the answers to a handler's HELLOs, it says
# HELLO after 1, 2, 4... heartbeats (txmp._handler.FrontLink._heartbeat),
# so that a front slower to answer than a heartbeat answers the last one;
# at most every OWED_HELLO_MAX_WAIT heartbeats (a minute at the default
# 1 s), so that a front that answers PINGs but lost a WELCOME still gets
# the credits within a bounded time.
OWED_HELLO_MAX_WAIT = 64

# A handler's connections to its fronts (txmp._zmq.ZmqSocket.keepAlive):
# ZeroMQ sends a ZMTP heartbeat at the handler's --heartbeat (at most a
# third of DEAD_CONNECTION), closes a connection that has brought nothing
# for DEAD_CONNECTION seconds and connects again, giving up a TCP connect
# not made in CONNECT_TIMEOUT seconds to try again at once.  A network cut
# leaves a TCP connection open on both sides, and what is sent on it waits
# for the kernel's next retransmission, whose wait doubles through the
# cut: in a helper's test, a handler cut off for 60 s joined its front
# again 48 s after the network healed (its front answering 503 meanwhile,
# had it no other handler), 23 s after a cut of 30 s.  Longer than the
# front's own judgement of silence (three heartbeats): a front only paused
# (garbage collection, SIGSTOP) keeps its connections for this long.
# (Longer, for a --heartbeat over 2.5 s: DEAD_CONNECTION_HEARTBEATS of them,
# one more than a front's judgement of silence.  ZMTP heartbeats no more
# often than KEEPALIVE_MIN.)
DEAD_CONNECTION = 10.0
DEAD_CONNECTION_HEARTBEATS = 4
CONNECT_TIMEOUT = 2.0
KEEPALIVE_MIN = 0.1

# A front's connections from its handlers (txmp._zmq.ZmqSocket.tcpKeepAlive):
# the kernel probes one idle for FRONT_KEEPALIVE_IDLE seconds, every
# FRONT_KEEPALIVE_INTERVAL, and closes it after FRONT_KEEPALIVE_COUNT
# probes unanswered or reset.  A front sends nothing on its return socket,
# and nothing on its send socket once a handler has connected again
# (ROUTER_HANDOVER), so a connection whose handler's end was reset without
# the front's kernel hearing of it (a firewall's REJECT --reject-with
# tcp-reset answers the sender only; a handler's host gone) stayed open for
# good: a helper's three resets of 2 s left six such connections to a
# front, one per socket per handler each time, some with 2 MB received
# unread.  A live handler's kernel answers the probes however long its
# process is paused.
FRONT_KEEPALIVE_IDLE = 60
FRONT_KEEPALIVE_INTERVAL = 10
FRONT_KEEPALIVE_COUNT = 3

# How long a stopping handler lets ZeroMQ send what is still queued on its
# sockets (the last replies, which its application threads queued before
# the drain ended, and its BYE or CREDIT) before it closes them: their
# LINGER is 0 otherwise, and the context's close drops them.  A whole
# response queued as one RESP of 8 MB was lost 1 time in 3 by a handler
# recycled by --max-requests 1, and one of 30 MB 7 times in 8 (the front
# answered 502); 2 s sends far more than that over a local link, and bounds
# the wait for a front that is gone unseen.  (A handler none of whose links
# has a front, all silent for three heartbeats or said BYE, does not linger.)
STOP_LINGER = 2.0

# How long a stopping front lets ZeroMQ send its last messages, the BYEs to
# its handlers, before it closes its sockets: so that they register again at
# once with the next front, and a draining one stops waiting.  Small
# messages over links that are up take far less; the bound keeps a front
# whose handlers are gone from waiting long.
BYE_LINGER = 0.2

# How many messages a front's ROUTER keeps for one peer whose ZeroMQ pipe is
# full (EAGAIN), beyond the high-water marks of both ends: past this, the
# peer counts as unreachable (it does not read its socket), and the front
# forgets it.  An honest handler reads at once; one that stopped reading
# must not hold the front's memory without bound.
PEER_BACKLOG = 1000

# How many messages a socket hands to its receiver in one turn of the
# reactor before it lets the reactor serve everything else (HTTP clients,
# the other socket, timers) and reads on at the next: a peer that sends
# faster than the front can handle its messages (a runaway handler, or one
# flooding bad messages, each logged) must not starve the front's clients.
# Far above what a turn holds in ordinary traffic (requests are bounded by
# credits, so replies by the handlers' threads), so it costs nothing there;
# at the slowest handling seen (a bad message logged, about 60 us) a batch
# is about 60 ms.  (Found by flooding a front's return socket with 300,000
# bad messages: a GET waited 19 s for the drain.)
READ_BATCH = 1000

# At most how many messages a front sends a handler as one BATCH message
# (ZmqSocket.sendSoon): those of one turn of the reactor, or this many.
# Sending a turn's requests to a handler together saves wake-ups of ZeroMQ's
# I/O threads and of the handler's reactor; a cap lets the handler start on
# the first ones while the front reads on (docs/benchmarks.md, "Several
# messages a send").
BATCH_LIMIT = 16

# The most bytes of a message's leading frames that a peer which agreed to
# (HELLO and WELCOME packed=1) packs into its first ZeroMQ frame
# (docs/protocol.md, 3.1): every frame costs its own pyzmq call, libzmq
# part and a release of the GIL; packed (pack itself included), a
# hello-world request's REQ and RESP cost a quarter to a third less to
# send, receive and decode (benchmarks/packing.py; docs/benchmarks.md,
# "Packed heads").  Far below any --max-message.
PACK_LIMIT = 8 * KiB

# A front decodes a RESP's meta frame (status, reason, more, credit) and
# its headers frame (checked, split, Content-Length found) once for every
# distinct frame of up to DECODED_FRAME bytes, and keeps the result for the
# next RESP that sends the same bytes: an application repeats its meta in
# nearly every response (200, OK, credit) and often its header fields
# whole.  Decoding a hello world RESP (packed) took 5.5 us; 2.8 with both
# frames known, 4.5 with only the meta known (a Content-Length that differs
# every time), 6.5 with neither (benchmarks/respdecode.py); the front's own
# Python a request 26.2 -> 22.4 us (benchmarks/frontpath.py;
# docs/benchmarks.md, "Response heads decoded once").  At most
# DECODED_FRAMES of each (all forgotten when full): 140 KiB for hello
# world's heads with as many lengths, but 7.4 MiB (CPython) for frames
# built to cost the most, whose every four bytes are a pair of its own
# (benchmarks/respdecode.py --memory).  A handler likewise keeps the RESP
# meta frames it made, by status, reason (bytes, of up to DECODED_FRAME),
# more and credit, DECODED_FRAMES at most: 306 KiB (CPython) if every
# reason is as long as that (benchmarks/respdecode.py --memory;
# docs/benchmarks.md, "Status lines made once").
DECODED_FRAME = 512
DECODED_FRAMES = 256

# The largest frame a front accepts from a peer (ZMQ_MAXMSGSIZE,
# --max-message): a peer that sends a larger one is disconnected instead of
# buffered.  Handlers send body frames of at most MAX_FRAME (1 MiB) and
# heads bounded by the HTTP header limits, so this leaves a wide margin.
DEFAULT_MAX_MESSAGE = 16 * MiB

# The least --max-message a front takes: a handler's HELLO goes before the
# front's WELCOME tells it the limit, so a front whose limit a HELLO passes
# (--max-message 10, seen: its meta frame is some 150 bytes, and more with a
# long --name) disconnected every handler as it registered, the handler
# warning of a lost connection six times a second and the front silent, its
# clients waiting.  64 KiB (FRAME_JOIN, the frames small body chunks are
# joined into) holds any HELLO and most response heads; the limit bounds no
# message anyway ("Hostile peers", docs/deployment.md).
MIN_MAX_MESSAGE = 64 * KiB

# Reply frames at least this long (response body chunks) are received
# without a copy: they are copied once, when the front joins the chunks it
# has for a response into one write.  Not on PyPy: a frame received so is
# freed only when its garbage collector runs, and that does not count
# ZeroMQ's memory (a PyPy front's peak grew by 92 MiB for one 100 MiB
# download instead of 53).  Figures and commands: docs/benchmarks.md,
# "Fewer messages, fewer copies, larger sends".
LARGE_FRAME: int | None = (
    16 * KiB if platform.python_implementation() == "CPython" else None
)

# How many refused CURVE keys the front's ZAP handler remembers, for its
# log's pacing: a bound on memory whatever the peers try.
MAX_DENIAL_KEYS = 10000

# How many routing ids the front's dispatcher remembers as having
# registered, or as having had their replies dropped and logged (a handler
# whose two sockets have different routing ids: docs/protocol.md, 2.1), so
# that each unregistered one is logged once: a bound on memory whatever ids
# the peers use.
MAX_PEER_IDS = 10000

# The front's warnings about one peer (a bad message, a CREDIT over the
# cap, an invalid reply, a peer that takes no messages): at most
# PEER_LOG_BURST lines of one kind per peer in PEER_LOG_INTERVAL seconds,
# then one line at the interval's end saying how many more were not
# written (txmp._peerlog.PacedLog), as nginx and HAProxy pace theirs.  A
# peer flooding 100,000 bad CREDITs wrote 100,000 lines, one that never
# read wrote "takes no messages" 189 times.  10 lines show what is wrong
# (an honest but buggy handler rarely makes more than a few kinds of
# mistake); 10 s makes a flood one line per peer and kind every 10 s
# (360 an hour) while a new problem is seen within seconds.  The counters
# (badMessages) count every one.  At most PEER_LOG_KEYS pairs of peer and
# kind are remembered, as MAX_PEER_IDS: past that, new peers share one.
PEER_LOG_BURST = 10
PEER_LOG_INTERVAL = 10.0
PEER_LOG_KEYS = 10000
# And at most PEER_LOG_KIND_BURST lines of one kind in an interval from all
# peers together: a peer that reconnects with a new routing id each time
# (a new ZeroMQ socket a connection) is a new peer each time, and cycling
# HELLO and BYE so wrote three lines a connection, PEER_LOG_KEYS times
# PEER_LOG_BURST lines (100,000) an interval at the most.  100 lets every
# handler of a large front (say 32, each joining and leaving, after the
# front restarts) be named, while a flood of new ids writes 10 lines a
# second of a kind at the most; the rest are counted, as "other peers".
PEER_LOG_KIND_BURST = 100

# How much of a label a peer chose (a HELLO's name, docs/protocol.md:
# "a label for logs", of any length) a log line shows: 64 characters, then
# "...".  Enough for host:pid, a container or pod name (63 at most in
# Kubernetes) or a UUID; a peer cannot make every line about it 1000 bytes.
LOG_NAME_LENGTH = 64

# How much of an ERROR's message (docs/protocol.md: "what went wrong, for
# the log", text the handler chose) a front's log line shows: 300
# characters, then "...".  txmp's handler sends "WSGI application error";
# another's may carry an exception's text, which 300 characters keep.
LOG_MESSAGE_LENGTH = 300

# How much of a request line the front refused whole its access log shows
# (nginx logs it whole as $request; a refused line may be as long as
# --max-request-line, 8190 bytes by default).
REFUSED_LINE_LOGGED = 1024

# -- The handler ----------------------------------------------------------

# The size of a handler's WSGI thread pool, and the credits it offers
# (mphandler --threads): docs/benchmarks.md, "Threads", measured with
# benchmarks/threads.py.
DEFAULT_THREADS = 4

# How many requests a handler takes beyond its threads, to wait in its pool's
# queue (mphandler --prefetch; announced in HELLO as prefetch): with a
# request always waiting, a thread that finishes takes the next at once, and
# the messages each way travel in batches instead of one per wake-up.
# docs/benchmarks.md, "Prefetch", measured with benchmarks/threadcpu.py and
# benchmarks/throughput.py (txmp-prefetch0): 28 served 1.27 to 1.34 times
# the requests of 12 with a PyPy front and two handlers, and 46 about as
# much as 28; 4 + 28 = 32 a handler.
DEFAULT_PREFETCH = 28

# A front sends a handler requests to wait for a thread only while no
# handler has a thread free, and only if that handler gave credit back
# twice (two requests of it ended) in the last PREFETCH_STALL seconds: not
# to one whose threads are all held by slow requests.  Under load a handler
# serving fast requests ends one every fraction of a millisecond; one whose
# threads are all slow ends one now and then, and the front's queue is
# drained just then, so one credit back would not tell them apart.
PREFETCH_STALL = 0.02

# A handler that has given no credit back for RECALL_AFTER seconds while
# requests wait in it for a thread (its threads turned slow after they were
# sent) is asked for them back (RECALL) while another handler could take
# them (a thread free, or it serves fast requests, PREFETCH_STALL): one that
# no thread has taken yet comes back (RECALLED) and goes there.  Far above
# the time between two credits of a handler serving fast requests (tens of
# microseconds under load, PREFETCH_STALL at most for one that is
# prefetched to), far below any timeout: the soak of 2026-12-06
# saw requests sent to wait behind threads turned slow get 504 at --timeout
# while another handler had threads free.
RECALL_AFTER = 0.1

# How many bytes of a streamed request body (a REQ with more=1, its body in
# BODY messages) the front may send for one request beyond what
# the handler has granted with WINDOW; announced in HELLO.
INPUT_WINDOW = 256 * KiB

# What the application read of a streamed request body is granted back in
# batches of this share of INPUT_WINDOW (a quarter), and the rest at the end
# of the body, so a request's unread body stays under INPUT_WINDOW.
INPUT_GRANT_DIVISOR = 4

# The largest body frame a handler sends: larger chunks (an application
# may return a whole file as one string) are split, so that a front's
# ZMQ_MAXMSGSIZE (--max-message, DEFAULT_MAX_MESSAGE) never cuts a handler
# off for a legitimate response.
MAX_FRAME = 1 * MiB

# Frames at least this long (the MAX_FRAME pieces of a body returned whole,
# or an application's own chunks of 1 MiB or more) are sent without a copy
# (pyzmq's copy=False), if they are immutable bytes: ZeroMQ's copies of a
# 200 MB body grew a handler's peak RSS by 410 MB instead of 205, and stayed
# in the sending thread's malloc arena afterwards (about 195 MB per
# application thread).  Smaller frames are copied: a zero-copy send costs
# a message to pyzmq's garbage-collector thread, more than copying 64 KiB
# ("Large bodies", "Where the time goes", in docs/benchmarks.md).  Not on
# PyPy, where the frames' memory would wait for a garbage collection.
ZERO_COPY_SEND: int | None = (
    MAX_FRAME if platform.python_implementation() == "CPython" else None
)

# Body chunks shorter than this go to the front joined with their
# neighbours, in frames of at most this many bytes (txmp._handler.frameChunks):
# ZeroMQ copies frames that short anyway (ZERO_COPY_SEND), and each costs a
# message part to send and to read.  Not joined, an application yielding a
# byte at a time (a helper's: Flask, Django's StreamingHttpResponse of a
# str) had the handler send BODY messages of 262,144 one-byte frames: its
# reactor thread spent seconds on each, its heartbeat ran 8 s late, and the
# front declared it dead, aborting that response and 502ing or retrying
# the others it ran.
FRAME_JOIN = 64 * KiB

# The most body bytes the handler puts in one BODY message when chunks the
# application produced while the reactor thread was busy go out together:
# bigger batches save per-message work on both sides, but past this size the
# front waits longer for each and the pipeline stalls (1 MiB measured
# slower: docs/benchmarks.md, "Fewer messages, fewer copies, larger sends").
BODY_BATCH = 256 * KiB

# How much of a wsgi.file_wrapper file is read at once, unless its blksize
# is larger.
FILE_CHUNK_SIZE = 64 * KiB

# The most seconds a stopping handler waits for the application's atexit
# hooks (error reporters' and metrics' flushes, logging.shutdown): a hook
# may wait for ever (multiprocessing's joins the child processes the
# application left running), and the handler exits all the same.
EXIT_HOOKS_TIMEOUT = 5.0

# Seconds a profile started by SIGUSR2 lasts (mphandler --profile-seconds).
DEFAULT_PROFILE_SECONDS = 30.0

# Seconds between two looks at whether a spawned handler's front (its
# parent process) is still there (mphandler --parent-pid).
PARENT_CHECK_INTERVAL = 1.0

# A handler that no front has welcomed for this many seconds, since it
# started or since its front went silent or said BYE, logs a warning naming
# the front's addresses, and again every NO_FRONT_WARNING_INTERVAL seconds
# until one does (then an info line says after how long).  ZeroMQ retries a
# connection silently for ever: without it, a front that is not running or
# a wrong --send looks like an idle handler.  A front binds before it
# imports anything, so 10 s is well past a front's start or restart (a
# handler started first warns only if the front is not there by then); a
# minute between the warnings keeps a long outage to 60 lines an hour.
# Checked at each heartbeat (so up to one --heartbeat later).
NO_FRONT_WARNING = 10.0
NO_FRONT_WARNING_INTERVAL = 60.0

# A request still running this many seconds after the front cancelled it
# (its client went away, or its --timeout passed) is stuck in the
# application, which a thread cannot be made to leave: the handler logs a
# warning with the application thread's stack, where it is stuck, once.
# An application that streams or reads its body stops within a chunk of
# the cancel (its write() or wsgi.input raises), well inside 5 s, unless it
# waits between chunks for as long as it likes (server-sent events, 15 s
# between heartbeats): that one is not stuck, and said so at info level.
HUNG_AFTER_CANCEL = 5.0

# A handler stopping whose --graceful-timeout passed with requests still
# running cancels them, and waits this many seconds at most for their
# application threads to stop and close their responses (PEP 3333 close():
# Django's request_finished, Flask's teardown, which release database
# connections and locks) before it exits.  Within a chunk for a streaming
# application, as above; and short: a --spawn front waits for it
# (SPAWN_KILL_MARGIN).
CUT_CLOSE_TIMEOUT = 2.0

# A --spawn handler sent SIGTERM is sent SIGKILL this many seconds after its
# --graceful-timeout, if it is still there: a second more than the most a
# handler that keeps its own bounds takes past its --graceful-timeout (the
# requests it cut, CUT_CLOSE_TIMEOUT; its sockets' linger, STOP_LINGER; the
# application's atexit hooks, EXIT_HOOKS_TIMEOUT), so that none is killed in
# an error reporter's last flush.  This is for one that does not keep them.
# (It was 5 s, from before the hooks and the cut were bounded.)
SPAWN_KILL_MARGIN = CUT_CLOSE_TIMEOUT + STOP_LINGER + EXIT_HOOKS_TIMEOUT + 1.0

# A handler's connection to a front that ended the CURVE handshake for good
# (its ZAP handler refused the handler's key, or it does not use CURVE) is
# never tried again by libzmq (checked with libzmq 4.3.5: after the refusal,
# no connection at all, where a wrong --curve-server-key is retried every
# 0.1 s): the handler connects again itself, REFUSED_RETRY seconds later,
# then after twice as long at each refusal in a row, up to REFUSED_RETRY_MAX
# seconds, and from REFUSED_RETRY again once a handshake succeeds.  So a
# handler whose key is allowed while it runs (a rolling key change) joins a
# second or two later if it was just refused, and at most 30 s later
# however long it was; and one refused for good costs its front one CURVE
# handshake per socket every 30 s (the front logs its refusals at doubling
# counts, txmp._zap).  No jitter: the refusals of many handlers cost the
# front little even in step, and the line that announces the delay is exact.
REFUSED_RETRY = 1.0
REFUSED_RETRY_MAX = 30.0

# -- Both processes -------------------------------------------------------

# The log's format (text or json) and the least level logged (--log-format,
# --log-level).
DEFAULT_LOG_FORMAT = "text"
DEFAULT_LOG_LEVEL = "info"

# Seconds between two looks at the application's source files
# (mpfront --reload).
RELOAD_INTERVAL = 1.0
