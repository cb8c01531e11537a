"""The option table: every option declared once, with its aliases, kind, defaults and help.

This one table drives parsing, validation, `help`, `show` and the option reference in docs/.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import Any

from sarra.config import types

COMPONENTS: tuple[str, ...] = (
    "post",
    "watch",
    "poll",
    "subscribe",
    "sarra",
    "shovel",
    "winnow",
    "sender",
    "report",
)
"""The components, by the short name used in directories (~/.config/sarra/<name>/)."""

FLOW = "flow"
"""sr3's generic component (~/.config/sr3/flow/): with `flowMain X` it is component X; without,
its callbacks' gather brings the notices it posts (sarra.components.flow)."""

CONFIG_COMPONENTS: tuple[str, ...] = (*COMPONENTS, FLOW)
"""Every directory of a config tree that holds configs run here."""


class Kind(Enum):
    """How an option's value is written and what it becomes."""

    FLAG = "flag"  # bare name = true; true/false, yes/no, on/off, 1/0
    COUNT = "count"  # whole number
    NUMBER = "number"  # decimal number
    DURATION = "duration"  # seconds; units s m h d w
    SIZE = "size"  # bytes; units b k m g t (powers of 2)
    OCTAL = "octal"  # permission mode
    TEXT = "text"  # a string, taken as written
    URL = "url"  # a URL; its password is never shown
    LIST = "list"  # comma-separated list
    CHOICE = "choice"  # one of the listed words
    REPEAT = "repeat"  # each line adds a value; `name None` clears
    DURATION_OR_FLAG = "duration-or-flag"  # bare = on with a default duration; off = 0
    MASK = "mask"  # accept/reject: a regular expression, captured with the placement options
    SUBTOPIC = "subtopic"  # a binding, captured with the exchange and topic_prefix in force
    HEADER = "header"  # k=v adds a header, k=None removes it
    DECLARE = "declare"  # declare env K=V | source U | subscriber U | exchange X
    INCLUDE = "include"  # read another file here


Group = str


@dataclass(frozen=True)
class Option:
    """One option: name, aliases, kind, default (and per-component defaults), one line of help."""

    name: str
    kind: Kind
    default: Any
    help: str
    group: Group
    aliases: tuple[str, ...] = ()
    per_component: Mapping[str, Any] = field(default_factory=dict)
    choices: tuple[str, ...] = ()
    order_dependent: bool = False
    per_notice: bool = False
    keeps: frozenset[str] = frozenset()
    """Per-notice variables kept as written in an option that is otherwise expanded on read."""
    deprecated: str = ""
    not_built: str = ""  # accepted (established configs carry it) but without effect: why

    # sr3's side of an option: looked up in the tables after the option table, not copied
    # into each option (a copy of the table cost 2-3 ms at every start)
    @property
    def sr3(self) -> tuple[str, ...]:
        """sr3's names of this option: its own first, then the older ones it still accepts."""
        return _SR3_NAMES.get(self.name, ())

    @property
    def sr3_default(self) -> Mapping[str, Any]:
        """Defaults of configs in sr3's tree where sr3's differ: by component, "*" for every
        one."""
        return _SR3_DEFAULTS.get(self.name, _NONE)

    @property
    def sr3_value(self) -> Callable[[str | None, Any], str | None] | None:
        """How a value written under an sr3 name reads as this option's (given its current
        value); None when sr3 writes it as sarra does."""
        return _SR3_VALUES.get(self.name)

    def default_for(self, component: str, dialect: str = "v2") -> Any:
        """The default value of this option for a component, in a dialect (v2 or sr3)."""
        if dialect == "sr3":
            for key in (component, "*"):
                if key in self.sr3_default:
                    return self.sr3_default[key]
        return self.per_component.get(component, self.default)

    @property
    def sr3_name(self) -> str:
        """The name sr3 gives this option (its own, else sarra's)."""
        return self.sr3[0] if self.sr3 else self.name


BROKER = "Broker, exchanges, queues and bindings"
FILTER = "Selection and placement (accept/reject and what they capture)"
DELIVERY = "Delivery"
POSTING = "Posting"
SOURCE = "Posting files: post, watch and poll"
DUPLICATES = "Duplicate suppression"
PROCESS = "Processes, logs and state"
PLUGINS = "Plugins"
ADMIN = "Administration"
SR3_ONLY = "sr3's own options (accepted, with a warning)"
OBSOLETE = "Deprecated (accepted, with a warning)"

GROUPS: tuple[Group, ...] = (
    BROKER,
    FILTER,
    DELIVERY,
    POSTING,
    SOURCE,
    DUPLICATES,
    PROCESS,
    PLUGINS,
    ADMIN,
    SR3_ONLY,
    OBSOLETE,
)

PLUGIN_ENTRY_POINTS: tuple[str, ...] = (
    "on_message",
    "on_part",
    "on_file",
    "on_post",
    "on_start",
    "on_stop",
    "on_heartbeat",
    "on_report",
    "on_watch",
    "on_line",
    "on_html_page",
    "on_data",
    "destfn_script",
    "do_download",
    "do_get",
    "do_put",
    "do_send",
    "do_poll",
    "do_task",
)

_ENTRY_ALIASES = {"on_message": ("on_msg",), "on_heartbeat": ("on_hb",), "on_report": ("on_rpt",)}

_CONSUMERS_ACCEPT_ALL = {"sarra": True, "shovel": True, "winnow": True, "report": True}
_POSTERS_ACCEPT_ALL = {"post": True, "watch": True}

_OWN_CLIENTS = "transfers use sarra's own clients, whatever the size"
_NOT_IN_SARRA = "sarra has no such setting"

_O = Option
# fmt: off
_TABLE: tuple[Option, ...] = (
    # --- broker, exchanges, queues, bindings
    _O("broker", Kind.URL, None, "broker to consume from: amqp[s]://user@host[:port]/vhost; "
       "the nodes of a cluster as user@host1[:port],host2[:port],... (the next is tried when one "
       "fails); or MQTT: mqtt[s]://user@host[:port], ws[s]://user@host[:port]/path", BROKER,
       ("b",)),
    _O("also_broker", Kind.REPEAT, [], "another broker consumed from at the same time, with the "
       "same subscriptions (a second WIS2 Global Broker); repeatable; a notice arriving from "
       "several is handled once (suppress_duplicates, 15m unless set)", BROKER),
    _O("exchange", Kind.TEXT, None, "exchange to bind the queue to", BROKER, ("ex",),
       {"subscribe": "xpublic", "sender": "xpublic", "report": "xreport"}),
    _O("exchange_suffix", Kind.TEXT, None, "exchange is xs_<broker user>_<suffix>", BROKER),
    _O("exchange_split", Kind.FLAG, False,
       "instance i binds exchange<NN> (NN = i-1): identical checksums reach one instance", BROKER),
    _O("topic_prefix", Kind.TEXT, "v02.post",
       "topic prefix of notices consumed (a value with v03 reads v03 notices)", BROKER, ("tp",),
       {"report": "v02.report"}),
    _O("subtopic", Kind.SUBTOPIC, [],
       "binding pattern below topic_prefix (* one level, # any); repeatable; None = no binding",
       BROKER, ("sub",)),
    _O("queue", Kind.TEXT, None, "queue name (default q_<user>.<program>.<config>...)", BROKER,
       ("queue_name", "qn")),
    _O("queue_suffix", Kind.TEXT, None, "suffix inserted into the generated queue name", BROKER),
    _O("durable", Kind.FLAG, True, "declare the queue durable (survives a broker restart)",
       BROKER),
    _O("expire", Kind.DURATION, 300.0, "the broker deletes the queue after this long unused",
       BROKER, ("expiry",)),
    _O("queue_type", Kind.CHOICE, "classic",
       "classic, or quorum (replicated by a RabbitMQ cluster)", BROKER,
       choices=("classic", "quorum")),
    _O("message_ttl", Kind.DURATION, 0.0, "notices older than this are dropped by the broker "
       "(0 = never)", BROKER, ("message-ttl",)),
    _O("persistent", Kind.FLAG, True, "publish notices persistent (delivery mode 2)", BROKER),
    _O("prefetch", Kind.COUNT, 100, "notices the broker sends ahead of acknowledgement (MQTT 5: "
       "the receive maximum)", BROKER, ("receiveMaximum",)),
    _O("reset", Kind.FLAG, False, "delete and re-create the queue (and duplicate cache) at start",
       BROKER),
    _O("declare_queue", Kind.FLAG, True, "declare the queue (False on locked-down brokers)",
       BROKER, ("dq",)),
    _O("bind_queue", Kind.FLAG, True, "bind the queue (False on locked-down brokers)", BROKER,
       ("bq",)),
    _O("declare_exchange", Kind.FLAG, True, "declare post exchanges", BROKER, ("dx", "de")),
    _O("use_pika", Kind.FLAG, False, "accepted for compatibility; sarra always uses pika", BROKER),
    _O("use_amqplib", Kind.FLAG, False, "accepted for compatibility; sarra always uses pika",
       BROKER),
    _O("tls_rigour", Kind.CHOICE, "normal",
       "TLS checks: lax (none), normal, strict (TLS 1.2+ and verified certificates)", BROKER,
       ("tls_rigor", "tlsr"), choices=("lax", "normal", "strict")),
    _O("mqtt_protocol", Kind.CHOICE, "5", "MQTT version spoken to an MQTT broker: 5, or 3.1.1 "
       "(no headers: v03 notices only)", BROKER, choices=("5", "3.1.1")),
    # --- selection and placement
    _O("accept", Kind.MASK, None, "regex on the URL: accept matching notices (first match wins)",
       FILTER, ("get",)),
    _O("reject", Kind.MASK, None, "regex on the URL: reject matching notices", FILTER),
    _O("accept_unmatch", Kind.FLAG, False, "accept notices that match no accept/reject", FILTER,
       ("au", "accept_unmatched"), {**_CONSUMERS_ACCEPT_ALL, **_POSTERS_ACCEPT_ALL}),
    _O("directory", Kind.TEXT, ".", "local directory for files accepted after this line", FILTER,
       order_dependent=True, per_notice=True),
    _O("mirror", Kind.FLAG, False, "reproduce the source's directory tree under directory",
       FILTER, per_component={"sarra": True, "sender": True}, order_dependent=True),
    _O("strip", Kind.TEXT, "0", "remove N leading directories, or the first match of a regex",
       FILTER, order_dependent=True),
    _O("flatten", Kind.TEXT, "/", "join the path's parts with this character ('/' = off)",
       FILTER, order_dependent=True),
    _O("filename", Kind.TEXT, None, "Sundew file-name keyword (WHATFN, DESTFN=x, ...)", FILTER,
       order_dependent=True),
    _O("base_dir", Kind.TEXT, None, "local root of relative paths (senders and posters)", FILTER,
       ("bd", "document_root", "dr"), per_notice=True),
    _O("rename", Kind.TEXT, None, "write the file under this name (ends with / = directory)",
       FILTER, ("rn",), per_notice=True),
    _O("tempdir", Kind.TEXT, None,
       "assemble files here and rename them into the destination when complete", FILTER),
    _O("log_reject", Kind.FLAG, False, "log every rejected notice with its reason", FILTER),
    _O("wis2_validation", Kind.CHOICE, "reject",
       "WIS2 notification messages that break the specification: reject (drop them), warn "
       "(log why and take them), tag (take them, the reasons added to "
       "properties._comment.validationErrors)", FILTER, choices=("reject", "warn", "tag")),
    _O("wis2_centre_id", Kind.LIST, [], "WIS2: take only messages of these centres (the "
       "topic's centre-id level, else data_id's second name)", FILTER),
    _O("wis2_data_id", Kind.REPEAT, [], "WIS2: take only messages whose data_id matches one of "
       "these regular expressions (repeatable)", FILTER),
    _O("wis2_metadata_id", Kind.REPEAT, [], "WIS2: take only messages whose metadata_id matches "
       "one of these regular expressions (repeatable)", FILTER),
    _O("wis2_bbox", Kind.TEXT, None, "WIS2: take only messages whose geometry meets this box, "
       "west,south,east,north in degrees (those without geometry pass)", FILTER),
    _O("wis2_time_window", Kind.TEXT, None, "WIS2: take only messages whose datetime (or "
       "start/end) falls in start/end: RFC 3339 date-times, durations before now (6h) or .. "
       "(open); those without a datetime pass", FILTER),
    _O("source_from_exchange", Kind.FLAG, False, "the source of a notice is the user whose "
       "exchange (xs_<user>[_suffix]) it came from, whatever the notice says", FILTER, ("sfe",)),
    _O("source", Kind.TEXT, None, "source header of posted notices (and, with "
       "source_from_message off, of every notice received)", FILTER),
    _O("source_from_message", Kind.FLAG, True, "a received notice keeps the source it names; "
       "off: its source becomes `source` (in sr3's tree: off, and `source` defaults to the "
       "post broker's user, else the broker's, as sr3 does)", FILTER),
    _O("cluster", Kind.TEXT, None, "this pump's cluster name (from_cluster header)", FILTER,
       ("from_cluster", "cl", "fc")),
    _O("cluster_aliases", Kind.LIST, [], "other names of this cluster", FILTER, ("ca",),
       not_built="notices are not routed by to_clusters"),
    _O("gateway_for", Kind.LIST, [], "clusters this pump forwards to", FILTER, ("gf",),
       not_built="notices are not routed by to_clusters"),
    _O("to", Kind.LIST, [], "destination clusters (to_clusters header)", FILTER),
    _O("header", Kind.HEADER, {}, "name=value adds a header to notices; name=None removes it",
       FILTER),
    # --- delivery
    _O("inflight", Kind.TEXT, ".tmp",
       "how a file is hidden until complete: .suffix, '.' prefix, dir/, seconds, umask or NONE",
       DELIVERY, ("lock",), {"post": "NONE", "watch": "NONE", "poll": "NONE"}),
    _O("accept_size_wrong", Kind.FLAG, False,
       "keep a download whose size differs from its notice's (else it is not put in place: "
       "retried)", DELIVERY),
    _O("overwrite", Kind.FLAG, False,
       "download even when the local file already matches the notice", DELIVERY, ("o",)),
    _O("discard", Kind.FLAG, False, "delete each file after it was downloaded (for testing)",
       DELIVERY, ("d", "download-and-discard")),
    _O("delete", Kind.FLAG, False, "delete the source after the download", DELIVERY),
    _O("notify_only", Kind.FLAG, False, "do not download: only announce", DELIVERY,
       ("n", "no_download"), {"shovel": True, "winnow": True, "report": True}),
    _O("wis2_deletions", Kind.FLAG, False, "WIS2: carry out deletion messages (remove the local "
       "file unless it is newer than the deletion); off: they are logged and skipped", DELIVERY),
    _O("outlet", Kind.CHOICE, "post", "where notices go: post, json (print), url (print)",
       DELIVERY, choices=("post", "json", "url"),
       not_built="notices are always posted"),
    _O("attempts", Kind.COUNT, 3, "immediate tries of a transfer before the retry queue",
       DELIVERY, ("at",)),
    _O("retry", Kind.FLAG, True, "keep failed notices in the retry queue", DELIVERY,
       ("retry_mode",)),
    _O("retry_ttl", Kind.DURATION, 0.0, "give up retrying after this long (0 = expire)", DELIVERY),
    _O("retry_driver", Kind.CHOICE, "disk",
       "where the retry queue lives: disk (per instance) or redis (shared by instances and hosts)",
       DELIVERY, choices=("disk", "redis")),
    _O("redisqueue_serverurl", Kind.URL, "redis://127.0.0.1:6379/0",
       "Redis server of the shared retry queue (retry_driver redis)", DELIVERY),
    _O("timeout", Kind.DURATION, 300.0, "time limit of a transfer without progress (0 = none)",
       DELIVERY),
    _O("threads", Kind.COUNT, 2,
       "parallel transfers of one instance (more help with distant servers; instances use cores)",
       DELIVERY),
    _O("batch", Kind.COUNT, 100, "transfers per connection before it is renewed", DELIVERY),
    _O("bufsize", Kind.SIZE, 1 << 20, "read/write buffer size of transfers", DELIVERY),
    _O("kbytes_ps", Kind.COUNT, 0, "throttle transfers to this many kB/s (0 = unthrottled)",
       DELIVERY),
    _O("inplace", Kind.FLAG, False, "write parts into the final file rather than part files",
       DELIVERY, ("in", "assemble"), {"subscribe": True}),
    _O("preserve_time", Kind.FLAG, True, "apply (posters: announce) mtime and atime", DELIVERY,
       ("pt",)),
    _O("preserve_mode", Kind.FLAG, True, "apply (posters: announce) the permission mode",
       DELIVERY, ("pm",)),
    _O("chmod", Kind.OCTAL, 0, "mode of written files (0 = umask); poll: mask files must match",
       DELIVERY, ("default_mode", "dm"), {"poll": 0o400}),
    _O("chmod_dir", Kind.OCTAL, 0o775, "mode of created directories", DELIVERY,
       ("default_dir_mode", "ddm")),
    _O("chmod_log", Kind.OCTAL, 0o600, "mode of log files", DELIVERY,
       ("default_log_mode", "dlm")),
    _O("xattr_disable", Kind.FLAG, False, "accepted for compatibility; sarra never writes "
       "extended attributes on source files", DELIVERY, ("xattr_disabled", "xd")),
    _O("inline", Kind.FLAG, False, "post, watch: a file of at most inline_max bytes travels "
       "in its v03 notice (content); a subscriber writes it from there without a download",
       DELIVERY, ("content", "inl")),
    _O("inline_max", Kind.SIZE, 1024, "largest file put inline", DELIVERY,
       ("content_max", "imx")),
    _O("inline_encoding", Kind.CHOICE, "guess", "inline content as utf-8 text when it is "
       "(guess, text) or always base64 (binary)", DELIVERY, ("content_encoding", "inlenc"),
       choices=("guess", "text", "binary")),
    # --- posting
    _O("post_broker", Kind.URL, None, "broker to publish notices to (several hosts as in broker)",
       POSTING, ("pb",)),
    _O("post_exchange", Kind.TEXT, None, "exchange to publish to (posters: xs_<user>)", POSTING,
       ("pe", "px"), {"sarra": "xpublic"}),
    _O("post_exchange_suffix", Kind.TEXT, None, "post exchange is xs_<user>_<suffix>", POSTING),
    _O("post_exchange_split", Kind.COUNT, 0,
       "publish to post_exchange<NN>, NN from the checksum, over N exchanges", POSTING,
       ("pes", "pxs")),
    _O("post_topic_prefix", Kind.TEXT, None,
       "topic prefix of published notices: v02.post, v03, or a WIS2 one such as origin/a "
       "(default: topic_prefix)", POSTING, ("ptp",)),
    _O("post_format", Kind.CHOICE, "auto",
       "format of published notices: v02, v03, wis (WIS2 notification messages), or auto: the "
       "one post_topic_prefix implies (v03..., origin/... or cache/... for wis, else v02)",
       POSTING, choices=("auto", "v02", "v03", "wis")),
    _O("post_topic", Kind.TEXT, None, "the whole topic of every notice published, instead of "
       "post_topic_prefix and the path's directories (a WIS2 topic for files whose paths form "
       "none); ${FILE}, ${STEM}, ${RELPATH}, ${WIS2_DIR} and dates are replaced", POSTING,
       per_notice=True),
    _O("post_data_id", Kind.TEXT, None, "WIS2: data_id of messages published that have none "
       "(default ${WIS2_DIR}/${FILE}: the topic without channel and version, the file name); "
       "variables as in post_topic", POSTING, per_notice=True),
    _O("post_metadata_id", Kind.TEXT, None, "WIS2: metadata_id (the WCMP2 record's id) of "
       "messages published that have none; variables as in post_topic", POSTING,
       per_notice=True),
    _O("wis2_global_cache", Kind.TEXT, None, "sarra: be a WIS2 Global Cache named by this "
       "centre-id (xx-name-global-cache): republish on cache/ what was downloaded, with a new id "
       "and a link to the copy", POSTING),
    _O("post_base_url", Kind.TEXT, None, "base URL of published notices (comma list: rotate; "
       "sr3's ${BUP} and ${BUPL}, the path of a received notice's base URL and its last element)",
       POSTING, ("pbu", "url", "post_url", "u"), keeps=frozenset({"BUP", "BUPL"})),
    _O("post_base_dir", Kind.TEXT, None,
       "removed (whole directories) from local paths to make the relative path", POSTING,
       ("pbd", "post_document_root", "pdr"), per_notice=True),
    _O("post_on_start", Kind.FLAG, True, "watch: announce the existing tree at start", POSTING,
       ("pos",)),
    _O("report_back", Kind.FLAG, False,
       "publish a report for each file handled (off: most accounts cannot write reports)",
       POSTING, ("rb", "reportback")),
    _O("report_exchange", Kind.TEXT, None, "exchange reports go to (default xs_<user>)", POSTING,
       ("lx", "le")),
    # --- post / watch / poll
    _O("path", Kind.REPEAT, [], "files or directories to announce", SOURCE, ("p",)),
    _O("pipe", Kind.FLAG, False, "read the paths to announce on standard input", SOURCE),
    _O("sleep", Kind.DURATION, 0.0, "period of a watch or poll pass (post: 0 = once)", SOURCE,
       per_component={"poll": 300.0, "watch": 0.1}),
    _O("events", Kind.TEXT, "create|delete|link|modify",
       "file-system events to announce, joined by |", SOURCE, ("e",)),
    _O("follow_symlinks", Kind.FLAG, False, "descend into symbolic links", SOURCE, ("fs",)),
    _O("recursive", Kind.FLAG, True,
       "poll: list the sub-directories of the directories polled too (post and watch always "
       "descend)", SOURCE),
    _O("force_polling", Kind.FLAG, False, "poll the tree rather than inotify (network mounts)",
       SOURCE, ("fp",)),
    _O("realpath_post", Kind.FLAG, False, "announce the real path (symbolic links resolved)",
       SOURCE, ("realpath", "real")),
    _O("realpath_filter", Kind.FLAG, False, "filter on the real path", SOURCE, ("fr",)),
    _O("blocksize", Kind.SIZE, 0, "0 = automatic partitioning, 1 = whole file, N = parts of N",
       SOURCE),
    _O("parts", Kind.TEXT, None, "partition method: 0[,bsz], 1, i,bsz or p", SOURCE,
       per_component={"poll": "1"}),
    _O("sum", Kind.TEXT, "d", "checksum method: d s n 0 a z,X", SOURCE,
       per_component={"poll": "z,d"}),
    _O("randomize", Kind.FLAG, False, "shuffle part order and checksum method (testing)", SOURCE,
       ("r",),
       not_built="parts and checksums are posted in order"),
    _O("reconnect", Kind.FLAG, False, "reconnect to the broker for every post", SOURCE, ("rr",),
       not_built="one connection is kept, with confirms"),
    _O("destination", Kind.URL, None, "remote server: listed by poll, written by sender", SOURCE),
    _O("file_time_limit", Kind.DURATION, 60 * 86400.0, "poll: ignore files older than this",
       SOURCE),
    _O("destination_timezone", Kind.TEXT, "UTC", "poll: the time zone in which listings write "
       "times of day (ftp LIST lines, http index pages; sftp and MLSD times are exact)", SOURCE),
    _O("ls_file_index", Kind.NUMBER, -1, "poll: column of the file name in ls lines", SOURCE,
       not_built="ls lines are read by their usual columns"),
    _O("poll_without_vip", Kind.FLAG, True,
       "poll: without the vip, list and keep state but announce nothing (False: wait)", SOURCE,
       ("pwv",)),
    _O("move", Kind.TEXT, None, "sr_post: announce that <old path> was renamed <new path>",
       SOURCE, not_built="sr_watch announces the renames it sees"),
    _O("pulse_message", Kind.TEXT, None, "text of an administrative pulse", SOURCE,
       not_built="pulses are not sent"),
    _O("shim_defer_posting_to_exit", Kind.FLAG, False, "shim: post when the process exits",
       SOURCE),
    _O("shim_post_minterval", Kind.DURATION, 5.0, "shim: least interval between posts of a file",
       SOURCE),
    _O("shim_skip_parent_open_files", Kind.FLAG, True, "shim: skip files the parent holds open",
       SOURCE),
    # --- duplicates
    _O("suppress_duplicates", Kind.DURATION_OR_FLAG, 0.0,
       "drop notices seen within this time (bare = 300s; off = 0)", DUPLICATES,
       ("sd", "nd", "cache", "caching", "no_duplicates", "noduplicates"), {"winnow": 1200.0}),
    _O("suppress_duplicates_basis", Kind.CHOICE, "path",
       "what makes two notices the same: path, name or data", DUPLICATES,
       ("cache_basis", "cb", "sdb"),
       choices=("path", "name", "data")),
    _O("cache_stat", Kind.FLAG, False, "log duplicate cache statistics", DUPLICATES,
       not_built="the heartbeat line gives the cache's size"),
    _O("nodupe_driver", Kind.CHOICE, "disk",
       "where the duplicate cache lives: disk (per instance) or redis (shared by instances and "
       "hosts)", DUPLICATES, choices=("disk", "redis")),
    _O("nodupe_redis_serverurl", Kind.URL, "redis://127.0.0.1:6379/0",
       "Redis server of the shared duplicate cache (nodupe_driver redis)", DUPLICATES),
    _O("nodupe_redis_keybase", Kind.TEXT, None,
       "key prefix of the shared duplicate cache (default sarra.nodupe.<component>.<config>)",
       DUPLICATES),
    # --- processes, logs and state
    _O("instances", Kind.COUNT, 1, "processes sharing the queue", PROCESS, ("i", "instance")),
    _O("heartbeat", Kind.DURATION, 300.0, "period of housekeeping and on_heartbeat plugins",
       PROCESS),
    _O("sanity_log_dead", Kind.DURATION, 0.0,
       "sanity restarts an instance whose log is older (0 = 1.5 x heartbeat)", PROCESS,
       ("sld",)),
    _O("vip", Kind.LIST, [],
       "active only while one of these IP addresses is on this host; else wait", PROCESS),
    _O("loglevel", Kind.CHOICE, "info", "critical, error, warning, info, debug or none", PROCESS,
       ("ll",), choices=("critical", "error", "warning", "info", "debug", "none")),
    _O("debug", Kind.FLAG, False, "same as loglevel debug", PROCESS),
    _O("verbose", Kind.FLAG, False, "sr_post, sr_poll in the foreground on a terminal: a line per"
       " file there too, not only in the log file", PROCESS, ("v",)),
    _O("log_format", Kind.TEXT, types.LOG_FORMAT, "format of log lines, in Python logging's %"
       " style: it starts with the time and level, and may add %(name)s, %(funcName)s,"
       " %(lineno)d, %(threadName)s, %(process)d...", PROCESS),
    _O("logrotate", Kind.COUNT, 5, "rotated log files kept", PROCESS, ("lr", "logdays", "ld")),
    _O("logrotate_interval", Kind.DURATION, 86400.0, "log rotation period (1d = at midnight)",
       PROCESS, ("lri",)),
    _O("statehost", Kind.CHOICE, "false", "keep state under a per-host directory", PROCESS,
       choices=("false", "true", "short", "fqdn"),
       not_built="state is kept per user, not per host"),
    _O("windows_run", Kind.CHOICE, "exe", "accepted for compatibility (Windows launcher)",
       PROCESS, ("wr",), choices=("exe", "pyw", "py")),
    _O("save", Kind.FLAG, False, "save consumed notices to a file instead of processing", PROCESS,
       not_built="the queue keeps the notices while the component is stopped"),
    _O("restore", Kind.FLAG, False, "process the saved notices", PROCESS,
       not_built="the queue keeps the notices while the component is stopped"),
    _O("restore_to_queue", Kind.TEXT, None, "publish saved notices into this queue", PROCESS,
       ("r2q", "rq", "restore2queue", "post_queue"),
       not_built="the queue keeps the notices while the component is stopped"),
    _O("save_file", Kind.TEXT, None, "file of save/restore", PROCESS, ("sf",),
       not_built="the queue keeps the notices while the component is stopped"),
    _O("remote_config_url", Kind.TEXT, None, "URL this config is refreshed from", PROCESS,
       not_built="configs are not fetched"),
    _O("dry_run", Kind.FLAG, False, "subscribe, sarra, sender: log each transfer (as skipped) "
       "instead of doing it; the notice is consumed", PROCESS, ("simulate",)),
    _O("hb_memory_max", Kind.SIZE, 0, "hb_memory: restart above this resident size (0 = auto)",
       PROCESS),
    _O("hb_memory_multiplier", Kind.NUMBER, 3.0, "hb_memory: restart above baseline x this",
       PROCESS),
    _O("hb_memory_baseline_file", Kind.COUNT, 100, "hb_memory: items before the baseline",
       PROCESS),
    # --- plugins
    _O("plugin", Kind.REPEAT, [], "a plugin file whose class provides several entry points",
       PLUGINS),
    *(
        _O(entry, Kind.REPEAT, [], f"plugin run at {entry} (repeatable; None clears)", PLUGINS,
           _ENTRY_ALIASES.get(entry, ()))
        for entry in PLUGIN_ENTRY_POINTS
    ),
    _O("flowcb", Kind.REPEAT, [], "an sr3 flow callback: module, module.Class or a .py file "
       "(repeatable; None clears)", PLUGINS,
       ("flowCallback", "flow_callback", "fcb")),
    _O("flowcb_prepend", Kind.REPEAT, [], "an sr3 flow callback run before the others",
       PLUGINS, ("flowCallbackPrepend", "flow_callback_prepend", "fcbp")),
    _O("flow_main", Kind.CHOICE, FLOW, "a config of sr3's flow/: the component it runs as (sr3's "
       "flowMain; flow: its callbacks' gather brings the notices it posts)", PLUGINS,
       choices=CONFIG_COMPONENTS),
    _O("logEvents", Kind.TEXT, None, "the points at which `callback log` logs notices: "
       "after_accept, after_work, after_post, on_housekeeping, reject, nodupe... (a,b sets; "
       "+a adds, -a removes)", PLUGINS),
    _O("set", Kind.REPEAT, [], "a setting of one sr3 flow callback: "
       "set <module.Class>.<option> <value>", PLUGINS, ("setting",)),
    _O("include", Kind.INCLUDE, None, "read another file here (.inc, globs allowed)", PLUGINS,
       ("config", "c")),
    # --- administration
    _O("admin", Kind.URL, None, "the broker administrator's URL", ADMIN),
    _O("feeder", Kind.URL, None, "the pump's feeder URL", ADMIN, ("manager",)),
    _O("declare", Kind.DECLARE, [], "declare env K=V | source U | subscriber U | exchange X",
       ADMIN),
    _O("max_queue_size", Kind.COUNT, 25000, "queues larger than this are reported", ADMIN,
       not_built="queue sizes are not audited"),
    _O("set_passwords", Kind.FLAG, True, "set broker users' passwords from credentials", ADMIN,
       not_built="broker users' passwords are not set by sarra"),
    _O("users", Kind.FLAG, False, "manage broker users", ADMIN),
    _O("pump", Kind.FLAG, False, "sr_audit: check this pump's settings", ADMIN,
       not_built="there is no sr_audit; sr check reads every config"),
    _O("report_daemons", Kind.FLAG, False, "run the report-routing shovels", ADMIN,
       not_built="report-routing shovels are configured like any other"),
    # --- sr3's own options: accepted so that sr3 configs read, and warned about where set
    *(
        _O(name, kind, default, text, SR3_ONLY, aliases, not_built=reason)
        for name, kind, default, aliases, text, reason in (
            # (v2's accel_*_threshold and accel_*_command stay the options of the accel_*
            # plugins, which read them)
            ("accelThreshold", Kind.SIZE, 0, ("accel_threshold",),
             "sr3: size above which a transfer runs an external command", _OWN_CLIENTS),
            ("accelCpCommand", Kind.TEXT, None, (),
             "sr3: external command copying large local files", _OWN_CLIENTS),
            ("accelScpCommand", Kind.TEXT, None, (),
             "sr3: external command copying large files over ssh", _OWN_CLIENTS),
            ("accelWgetCommand", Kind.TEXT, None, (),
             "sr3: external command downloading large files over http", _OWN_CLIENTS),
            ("accelFtpgetCommand", Kind.TEXT, None, (),
             "sr3: external command downloading large files over ftp", _OWN_CLIENTS),
            ("accelFtpputCommand", Kind.TEXT, None, (),
             "sr3: external command sending large files over ftp", _OWN_CLIENTS),
            ("amqp_consumer", Kind.FLAG, False, (), "sr3: consume with basic.consume",
             "notices are always consumed with basic.consume"),
            ("amqp_queue_args", Kind.REPEAT, [], (), "sr3: extra arguments of the queue",
             "queues are declared from queue_type, expire and message_ttl"),
            ("auto_delete", Kind.FLAG, False, (), "sr3: the broker deletes the queue when its "
             "last consumer leaves", "queues are durable and expire (option expire)"),
            ("baseUrl", Kind.TEXT, None, ("baseurl",), "sr3: base URL of posted files",
             "give it with post_base_url"),
            ("baseUrl_relPath", Kind.FLAG, False, (), "sr3: prepend the base URL's directories "
             "to the relative path", _NOT_IN_SARRA),
            ("clean_session", Kind.FLAG, False, (), "sr3: MQTT clean session",
             "MQTT sessions are always kept (clean start off) so nothing is lost"),
            ("count", Kind.COUNT, 0, (), "sr3: a count of messages (sr3_post)", _NOT_IN_SARRA),
            ("fileAgeMin", Kind.DURATION, 0.0, ("nodupe_fileAgeMin",),
             "sr3: skip files younger than this", _NOT_IN_SARRA),
            ("fileSizeMax", Kind.SIZE, 0, (), "sr3: skip files larger than this",
             _NOT_IN_SARRA),
            ("httpsSafeQuote", Kind.TEXT, None, (), "sr3: characters left unquoted in URLs",
             "URLs are quoted by sarra's own rules"),
            ("httpUserAgent", Kind.TEXT, None, (), "sr3: the User-Agent of http requests",
             "http requests carry sarra's User-Agent"),
            ("import", Kind.REPEAT, [], (), "sr3: a Python module imported at start",
             "modules are imported by the callbacks that need them"),
            ("inlineOnly", Kind.FLAG, False, (), "sr3: drop notices whose file is not inline",
             _NOT_IN_SARRA),
            ("logDuplicates", Kind.FLAG, False, (), "sr3: log each duplicate dropped",
             "log_reject logs every notice dropped, duplicates included"),
            ("logJson", Kind.FLAG, False, (), "sr3: log lines as JSON", _NOT_IN_SARRA),
            ("logMetrics", Kind.FLAG, False, (), "sr3: a daily metrics log",
             "metrics are in sr status and at /metrics (sr observe)"),
            ("logStdout", Kind.FLAG, False, (), "sr3: log to standard output",
             "foreground logs to the terminal; start logs to files"),
            ("max_inflight_messages", Kind.COUNT, 0, (), "sr3: MQTT messages in flight",
             "MQTT in-flight messages follow prefetch"),
            ("max_queued_messages", Kind.COUNT, 0, (), "sr3: MQTT messages queued",
             "MQTT in-flight messages follow prefetch"),
            ("messageAgeMax", Kind.DURATION, 0.0, (), "sr3: drop notices older than this",
             _NOT_IN_SARRA),
            ("messageCountMax", Kind.COUNT, 0, (), "sr3: exit after this many notices",
             _NOT_IN_SARRA),
            ("messageDebugDump", Kind.FLAG, False, (), "sr3: dump each message received",
             "debug logs each notice's fate"),
            ("messageRateMax", Kind.NUMBER, 0.0, (), "sr3: at most this many notices a second",
             "use on_post post_rate_limit"),
            ("messageRateMin", Kind.NUMBER, 0.0, (), "sr3: warn below this many notices a "
             "second", "sr status shows the rates"),
            ("metrics_writeInterval", Kind.DURATION, 5.0, (), "sr3: period of the metrics file",
             "metrics files are written every 5 s"),
            ("nofsetstat", Kind.FLAG, False, (), "sr3: set no times or modes on written files",
             "use preserve_time and preserve_mode"),
            ("post_messageAgeMax", Kind.DURATION, 0.0, (), "sr3: post no notice older than this",
             _NOT_IN_SARRA),
            ("qos", Kind.COUNT, 1, (), "sr3: MQTT quality of service",
             "MQTT notices are always exchanged at QoS 1"),
            ("queueShare", Kind.TEXT, None, (), "sr3: the part of the queue name instances "
             "share", "queue names are set by queue (default q_<user>.<program>.<config>...)"),
            ("realpathAdjust", Kind.COUNT, 0, (), "sr3 (C only): how much of a path realpath "
             "resolves", _NOT_IN_SARRA),
            ("retry_refilter", Kind.FLAG, False, (), "sr3: filter retried notices again",
             "retried notices keep the fate their filters gave them"),
            ("retryCountMax", Kind.COUNT, 0, (), "sr3: give up after this many retries",
             "retries end after retry_ttl"),
            ("retryEmptyBeforeExit", Kind.FLAG, False, (), "sr3: empty the retry queue before "
             "exiting", _NOT_IN_SARRA),
            *(
                ("runStateThreshold_" + limit, kind, 0, (), f"sr3: sr3 status threshold "
                 f"({limit})", "sr status has its own thresholds")
                for limit, kind in (("cpuSlow", Kind.COUNT), ("disconnected", Kind.COUNT),
                                    ("idle", Kind.DURATION), ("lag", Kind.DURATION),
                                    ("reject", Kind.COUNT), ("retry", Kind.COUNT),
                                    ("slow", Kind.COUNT))
            ),
            ("sundew_compat_regex_first_match_is_zero", Kind.FLAG, False, (),
             "sr3: number regex groups from 0 as Sundew did", _NOT_IN_SARRA),
            ("topicCopy", Kind.FLAG, False, (), "sr3: publish under the topic received",
             "topics are made from post_topic_prefix and the path"),
            ("v2compatRenameDoublePost", Kind.FLAG, False, (), "sr3: announce a rename twice, "
             "as v2 did", _NOT_IN_SARRA),
            ("varTimeOffset", Kind.DURATION, 0.0, (), "sr3: shift of the date variables",
             _NOT_IN_SARRA),
            ("wololo", Kind.FLAG, False, (), "sr3: let sr3 convert overwrite",
             "sr convert refuses to overwrite"),
        )
    ),
    # --- deprecated
    *(
        _O(old, Kind.TEXT, None, f"deprecated: {instead}", OBSOLETE, deprecated=instead)
        for old, instead in (
            ("host", "give the host in the broker URL"),
            ("amqp-user", "give the user in the broker URL"),
            ("amqp-password", "put the password in credentials.conf"),
            ("http-user", "put the user in credentials.conf"),
            ("http-password", "put the password in credentials.conf"),
            ("topic", "use subtopic"),
            ("exchange_type", "exchanges are always of type topic"),
            ("exchange_key", "use subtopic"),
            ("recompute_chksum", "no longer has any effect"),
            ("interface", "use vip"),
            ("role", "use declare source|subscriber <user>"),
            ("hostname", "an option of dd_subscribe that no longer has any effect"),
            ("action", "give the action on the command line: sr_<component> action config"),
            ("a", "give the action on the command line: sr_<component> action config"),
            ("help", "ask for it on the command line: sr_<component> help"),
            ("h", "ask for it on the command line: sr_<component> help"),
            ("no", "instance numbers are given by start (sr_<component> --no N foreground)"),
        )
    ),
)
# fmt: on
del _O


def _sr3_identity(value: str | None, current: Any) -> str | None:
    """sr3's identity (sha512, md5, md5name, random, arbitrary, none, cod,X) as a sum."""
    if value is None:
        return value
    word = value.strip().lower()
    method, _, algorithm = word.partition(",")
    if method == "cod":
        return "z," + _SR3_IDENTITY.get(algorithm, algorithm)
    return _SR3_IDENTITY.get(word, value.strip())


_SR3_IDENTITY = {"sha512": "s", "md5": "d", "md5name": "n", "random": "0", "arbitrary": "a",
                 "none": "0"}  # fmt: skip


def _sr3_download(value: str | None, current: Any) -> str | None:
    """sr3's download flag: the opposite of notify_only."""
    return str(not (value is None or types.parse_bool(value)))


def _sr3_file_events(value: str | None, current: Any) -> str | None:
    """sr3's fileEvents set: a,b (or a|b) sets, +a adds, -a removes, all, None; as events."""
    text = (value or "").strip().replace("|", ",")
    if text.lower() in ("all", "+all"):
        return "|".join(_SR3_EVENTS)
    if text.lower() == "none":
        return ""
    words = {w.strip() for w in text.lstrip("+-").split(",") if w.strip()}
    now = {e for e in str(current or "").split("|") if e}
    chosen = now | words if text.startswith("+") else now - words if text.startswith("-") else words
    return "|".join(sorted(chosen))


_SR3_EVENTS = ("create", "delete", "link", "mkdir", "modify", "rmdir")


def _sr3_byte_rate(value: str | None, current: Any) -> str | None:
    """sr3's byteRateMax (bytes a second, with units) as kbytes_ps (kB a second)."""
    size = types.parse_size(value or "0")
    return str(-(-size // 1024))


# sr3's names of sarra's options (sr3's own first, then the older ones it still accepts).
_SR3_NAMES: dict[str, tuple[str, ...]] = {
    "accept_unmatch": ("acceptUnmatched",),
    "accept_size_wrong": ("acceptSizeWrong",),
    "base_dir": ("baseDir", "basedir", "documentRoot"),
    "bind_queue": ("queueBind",),
    "blocksize": ("blockSize",),
    "bufsize": ("bufSize",),
    "chmod": ("permDefault",),
    "chmod_dir": ("permDirDefault",),
    "chmod_log": ("permLog",),
    "declare_exchange": ("exchangeDeclare",),
    "declare_queue": ("queueDeclare",),
    "destination": ("sendTo", "pollUrl", "remoteUrl"),
    "destination_timezone": ("timezone",),
    "dry_run": ("dry_run", "simulation"),
    "events": ("fileEvents",),
    "exchange_split": ("exchangeSplit",),
    "exchange_suffix": ("exchangeSuffix",),
    "file_time_limit": ("fileAgeMax", "nodupe_fileAgeMax"),
    "flowcb": ("flowcb", "callback"),
    "flow_main": ("flowMain",),
    "flowcb_prepend": ("flowcb_prepend", "callback_prepend", "cbp"),
    "hb_memory_baseline_file": ("MemoryBaseLineFile",),
    "hb_memory_max": ("MemoryMax",),
    "hb_memory_multiplier": ("MemoryMultiplier",),
    "heartbeat": ("housekeeping",),
    "inline_encoding": ("inlineEncoding",),
    "inline_max": ("inlineByteMax",),
    "kbytes_ps": ("byteRateMax",),
    "log_reject": ("logReject",),
    "log_format": ("logFormat",),
    "loglevel": ("logLevel",),
    "logrotate": ("logRotateCount", "logRotate", "log_rotate"),
    "logrotate_interval": ("logRotateInterval", "logRotate_interval"),
    "notify_only": ("download",),
    "post_base_dir": ("post_baseDir", "post_basedir", "post_documentRoot"),
    "post_base_url": ("post_baseUrl", "post_baseurl"),
    "post_exchange_split": ("post_exchangeSplit",),
    "post_exchange_suffix": ("post_exchangeSuffix",),
    "post_topic_prefix": ("post_topicPrefix",),
    "preserve_mode": ("permCopy",),
    "preserve_time": ("timeCopy",),
    "queue": ("queueName",),
    "queue_type": ("queueType",),
    "realpath_filter": ("realpathFilter",),
    "realpath_post": ("realpathPost",),
    "report_back": ("report",),
    "sanity_log_dead": ("runStateThreshold_hung",),
    "set": ("set", "s"),
    "source_from_exchange": ("sourceFromExchange",),
    "source_from_message": ("sourceFromMessage",),
    "sum": ("identity", "integrity"),
    "suppress_duplicates": ("nodupe_ttl",),
    "suppress_duplicates_basis": ("nodupe_basis",),
    "tls_rigour": ("tlsRigour",),
    "topic_prefix": ("topicPrefix",),
}

_SR3_VALUES: dict[str, Callable[[str | None, Any], str | None]] = {
    "sum": _sr3_identity,
    "notify_only": _sr3_download,
    "events": _sr3_file_events,
    "kbytes_ps": _sr3_byte_rate,
}
"""Options whose value sr3 writes otherwise, when written under one of sr3's names."""

SR3_FORMS_UNDER_ANY_NAME = frozenset({"sum", "events"})
"""Options whose sr3 form is read under any of their names (sr3 takes `sum sha512` and
`events create,modify`): their reading of sr3's form leaves a v2 value as it is."""

_NONE: Mapping[str, Any] = MappingProxyType({})

_SR3_DEFAULTS: dict[str, dict[str, Any]] = {
    "accept_unmatch": {"*": True},
    "topic_prefix": {"*": "v03"},
    "exchange": {c: "xpublic" for c in ("sarra", "shovel", "winnow")},
    "sum": {"*": "s", "poll": "z,s"},
    "events": {"*": "|".join(_SR3_EVENTS)},
    "post_on_start": {"*": False},
    "post_format": {"*": "v03"},  # sr3 takes the format from post_format alone
    "blocksize": {"*": 1},
    "inline_max": {"*": 4096},
    "suppress_duplicates": {"winnow": 300.0},
    "file_time_limit": {"poll": 30 * 86400.0},
    "source_from_message": {"*": False},
}
"""sr3's defaults where they differ from v2's (sr3_options(7) and sr3 3.3.1's code agree on
each): configs in ~/.config/sr3 are read with them."""

OPTIONS: Mapping[str, Option] = MappingProxyType({o.name: o for o in _TABLE})
"""Options by their canonical name, in table order."""

_BY_ANY_NAME: dict[str, Option] = {}
for _option in _TABLE:
    for _name in dict.fromkeys((_option.name, *_option.aliases, *_option.sr3)):
        if _name in _BY_ANY_NAME:
            raise RuntimeError(f"option name {_name!r} declared twice")
        _BY_ANY_NAME[_name] = _option
del _option, _name


def find(name: str) -> Option | None:
    """The option a name or alias stands for; None when unknown."""
    return _BY_ANY_NAME.get(name)


def closest(name: str) -> str | None:
    """The canonical name of the option whose name or alias is closest to a mistyped one (its
    sr3 name when the closest is one of sr3's names: the config is likely sr3's)."""
    import difflib  # only for a mistake: not at every start

    matches = difflib.get_close_matches(name, list(_BY_ANY_NAME), n=1, cutoff=0.75)
    if not matches:
        return None
    option = _BY_ANY_NAME[matches[0]]
    return option.sr3_name if matches[0] in option.sr3 else option.name


def all_names() -> list[str]:
    """Every accepted name and alias."""
    return list(_BY_ANY_NAME)
