"""sr3 flow callbacks: found as sr3 finds them (the user's plugin directories, the built-ins under
sr3's names, Python's import path), written against `sarracenia` without sr3 installed (the
shim), run in the one plugin table with v2's plugins; their worklist of one notice decides its
way, their changes to the message come back into the notice, `self.o` has sr3's names."""

from __future__ import annotations

import importlib.util
import logging
import sys
import threading
import time
from pathlib import Path

import pytest

from sarra.compat import plugins as plugins_module
from sarra.compat.plugins import PluginFailed, Plugins
from sarra.compat.sr3 import shim
from sarra.compat.sr3.message import View
from sarra.config.errors import ConfigError, ConfigErrors
from sarra.config.loader import Config, load
from sarra.message.errors import MalformedNotice
from sarra.message.notice import Identity, Notice, epoch_to_time

USER_CALLBACK = '''
import logging
import sarracenia
from sarracenia.flowcb import FlowCB

logger = logging.getLogger(__name__)


class Sorter(FlowCB):
    """Written from sr3's documentation: rejects, renames, logs."""

    def __init__(self, options):
        super().__init__(options, logger)
        self.o.add_option("sorter_reject", "str", "reject_")
        self.o.add_option("sorter_prefix", "str", "new_")
        self.seen = []

    def after_accept(self, worklist):
        kept = []
        for msg in worklist.incoming:
            self.seen.append(msg["relPath"])
            if msg["new_file"].startswith(self.o.sorter_reject):
                worklist.rejected.append(msg)
                continue
            if msg["new_file"].startswith("late_"):
                worklist.failed.append(msg)
                continue
            msg["new_file"] = self.o.sorter_prefix + msg["new_file"]
            msg["new_relPath"] = "/".join(msg["new_relPath"].split("/")[:-1] + [msg["new_file"]])
            logger.info("sorter: %s becomes %s", msg.getIDStr(), msg["new_file"])
            kept.append(msg)
        worklist.incoming = kept
'''


def config_with(tmp_path: Path, body: str, component: str = "subscribe") -> Config:
    path = tmp_path / "p.conf"
    path.write_text(f"broker amqp://guest@localhost/\ndirectory {tmp_path}/out\naccept .*\n{body}")
    return load(component, path)


def a_notice(rel_path: str = "a/b.txt") -> Notice:
    return Notice(epoch_to_time(time.time()), "http://example.com/", rel_path, size=3,
                  identity=Identity("md5", "rL0Y20zC+Fzt72VPzMSk2A=="))  # fmt: skip


@pytest.fixture
def sr3_plugins(sarra_home: Path) -> Path:
    """~/.config/sr3/plugins of the test's home."""
    directory = sarra_home.parent / "sr3" / "plugins"
    directory.mkdir(parents=True)
    return directory


def on_message(plugins: Plugins, rel_path: str) -> tuple[bool, object]:
    msg = plugins.message(a_notice(rel_path), new_dir="/out/a", new_file=rel_path.split("/")[-1])
    return plugins.run("on_message", msg), msg


def test_a_user_callback_imports_sarracenia_without_sr3_and_sorts_notices(
    tmp_path: Path, sr3_plugins: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert importlib.util.find_spec("sarracenia") is None or shim.serving()
    (sr3_plugins / "sorter.py").write_text(USER_CALLBACK)
    caplog.set_level(logging.INFO)
    plugins = Plugins.load(config_with(tmp_path, "sorter_prefix x_\ncallback sorter\n"))
    assert shim.serving()
    going, msg = on_message(plugins, "a/keep.txt")
    assert going and msg.new_file == "x_keep.txt" and msg.new_dir == "/out/a"
    assert msg.to_notice().rel_path == "a/keep.txt"  # a subscriber downloads what it was told
    assert "sorter: http://example.com/a/keep.txt becomes x_keep.txt" in caplog.text
    assert on_message(plugins, "a/reject_me.txt")[0] is False
    with pytest.raises(PluginFailed) as failed:
        on_message(plugins, "a/late_one.txt")
    assert failed.value.later and not failed.value.permanent


def test_without_files_to_place_new_relpath_becomes_the_notice_s_path(
    tmp_path: Path, sr3_plugins: Path
) -> None:
    (sr3_plugins / "sorter.py").write_text(USER_CALLBACK)
    plugins = Plugins.load(config_with(tmp_path, "callback sorter\n", component="shovel"))
    going, msg = on_message(plugins, "a/keep.txt")
    assert going and msg.to_notice().rel_path == "a/new_keep.txt"


def test_v2_plugins_and_sr3_callbacks_share_one_table_in_config_order_prepends_first(
    tmp_path: Path, sr3_plugins: Path, sarra_home: Path
) -> None:
    (sarra_home / "plugins").mkdir()
    (sarra_home / "plugins" / "v2tag.py").write_text(
        "def tag(parent):\n    parent.msg.new_file = 'v2_' + parent.msg.new_file\n"
        "    return True\nself.on_message = tag\n"
    )
    for name in ("first", "last"):
        (sr3_plugins / f"{name}.py").write_text(
            "from sarracenia.flowcb import FlowCB\n"
            f"class {name.capitalize()}(FlowCB):\n"
            "    def after_accept(self, worklist):\n"
            "        for m in worklist.incoming:\n"
            f"            m['new_file'] = '{name}_' + m['new_file']\n"
        )
    plugins = Plugins.load(
        config_with(tmp_path, "on_message v2tag\ncallback last\ncallback_prepend first\n")
    )
    assert [h.name for h in plugins.hooks["on_message"]] == [
        "first.First.after_accept", "v2tag.on_message", "last.Last.after_accept"]  # fmt: skip
    going, msg = on_message(plugins, "a/b.txt")
    assert going and msg.new_file == "last_v2_first_b.txt"


def test_a_notice_changed_into_no_notice_is_dropped_for_good(
    tmp_path: Path, sr3_plugins: Path
) -> None:
    (sr3_plugins / "breaker.py").write_text(
        "from sarracenia.flowcb import FlowCB\n"
        "class Breaker(FlowCB):\n"
        "    def after_accept(self, worklist):\n"
        "        worklist.incoming[0]['pubTime'] = 'yesterday'\n"
    )
    plugins = Plugins.load(config_with(tmp_path, "callback breaker\n"))
    with pytest.raises(PluginFailed, match="no notice") as failed:
        on_message(plugins, "a/b.txt")
    assert failed.value.permanent


def test_the_message_is_a_view_over_the_notice() -> None:
    notice = a_notice("dir/x.dat")
    notice.exchange = "xpublic"
    view = View.of(notice, new_dir="/out/dir", new_file="x.dat", post_base_dir="/out",
                   post_base_url="http://here/")  # fmt: skip
    message = view.message
    assert message["relPath"] == "dir/x.dat" and message["size"] == 3
    assert message["identity"] == {"method": "md5", "value": "rL0Y20zC+Fzt72VPzMSk2A=="}
    assert message["new_relPath"] == "dir/x.dat" and message["new_baseUrl"] == "http://here/"
    assert message["subtopic"] == ["dir"] and message["exchange"] == "xpublic"
    assert message.getIDStr() == "http://example.com/dir/x.dat"
    assert view.to_notice() is notice  # nothing changed: the very notice
    message["to_clusters"] = "DDI"
    message["extra_field"] = {"kept": True}
    changed = view.to_notice()
    assert changed.to_clusters == "DDI" and changed.extra == {"extra_field": {"kept": True}}
    assert changed.exchange == "xpublic"
    message.setReport(201, "done")  # reports are not posted
    assert "report" not in changed.extra and view.to_notice().report is None
    message["size"] = "lots"
    with pytest.raises(MalformedNotice, match="size"):
        view.to_notice()


def test_self_o_has_sr3_names_kinds_and_settings(tmp_path: Path, sr3_plugins: Path) -> None:
    (sr3_plugins / "opts.py").write_text(
        "from sarracenia.flowcb import FlowCB\n"
        "class Opts(FlowCB):\n"
        "    def __init__(self, options):\n"
        "        super().__init__(options)\n"
        "        for name, kind, default in [('o_count','count',1), ('o_dur','duration',5),\n"
        "                ('o_flag','flag',False), ('o_list','list',[]), ('o_size','size',0),\n"
        "                ('o_set','set',['a','b']), ('o_str','str','x'), ('o_unset','str','d')]:\n"
        "            self.o.add_option(name, kind, default)\n"
        "    def on_start(self):\n"
        "        o = self.o\n"
        "        o.seen = dict(count=o.o_count, dur=o.o_dur, flag=o.o_flag, list=o.o_list,\n"
        "            size=o.o_size, set=o.o_set, str=o.o_str, unset=o.o_unset,\n"
        "            level=o.logLevel, base=o.baseDir, pbd=o.post_baseDir, bufsize=o.bufSize,\n"
        "            component=o.component, config=o.config, broker=o.broker.url.hostname,\n"
        "            prefix=o.topicPrefix, unmatched=o.acceptUnmatched,\n"
        "            fmt=hasattr(o, 'logFormat'), none=hasattr(o, 'no_such_option'))\n"
    )
    config = config_with(tmp_path,
        "loglevel warning\nbase_dir /srv\npost_base_dir /pub\nbufsize 4k\n"
        "o_count 3\no_dur 2m\no_flag\no_list one\no_list two\no_size 1k\no_set +c\n"
        "callback opts\nset opts.Opts.o_str from_set\n")  # fmt: skip
    plugins = Plugins.load(config)
    plugins.event("on_start")
    seen = plugins.hooks["on_start"][0].function.__closure__[0].cell_contents.__self__.o.seen
    assert seen == dict(count=3, dur=120.0, flag=True, list=["one", "two"], size=1024,
                        set={"a", "b", "c"}, str="from_set", unset="d", level="warning",
                        base="/srv", pbd="/pub", bufsize=4096, component="subscribe",
                        config="p", broker="localhost", prefix=["v02", "post"],
                        unmatched=False, fmt=True, none=False)  # fmt: skip


def test_a_bad_value_of_a_declared_option_and_an_undeclared_one_are_config_errors(
    tmp_path: Path, sr3_plugins: Path
) -> None:
    (sr3_plugins / "counted.py").write_text(
        "from sarracenia.flowcb import FlowCB\n"
        "class Counted(FlowCB):\n"
        "    def __init__(self, options):\n"
        "        super().__init__(options)\n"
        "        self.o.add_option('counted_max', 'count', 1)\n"
    )
    with pytest.raises(ConfigError, match=r"Counted\(options\) failed: ValueError: option counted"):
        Plugins.load(config_with(tmp_path, "counted_max lots\ncallback counted\n"))
    with pytest.raises(ConfigErrors, match="unknown option 'countedmax'"):
        Plugins.load(config_with(tmp_path, "countedmax 3\ncallback counted\n"))


def test_a_callback_not_found_says_where_it_was_looked_for(tmp_path: Path) -> None:
    looked = r"\(looked in .*sr3/plugins, .*sarra/plugins, among the built-in"
    with pytest.raises(
        ConfigErrors, match=r"p\.conf:4: flow callback nowhere\.Thing: not found " + looked
    ):
        Plugins.load(config_with(tmp_path, "flowcb nowhere.Thing\n"))
    (tmp_path / "needs.py").write_text("import no_such_module_here\n")
    with pytest.raises(ConfigErrors, match=r"needs\.py cannot load: ModuleNotFoundError"):
        Plugins.load(config_with(tmp_path, f"flowcb {tmp_path / 'needs.py'}\n"))


def test_built_ins_under_sr3_names_set_up_what_they_stand_for(tmp_path: Path) -> None:
    config = config_with(tmp_path, "nodupe_ttl 600\ncallback nodupe.redis\ncallback log\n"
                         "flowcb sarracenia.flowcb.post.message.Message\ncallback retry\n"
                         "callback accept.httptohttps\n")  # fmt: skip
    plugins = Plugins.load(config)
    assert config.nodupe_driver == "redis" and config.suppress_duplicates == 600.0
    assert [h.name for h in plugins.hooks["on_message"]] == [
        "log.Log.after_accept", "accept.httptohttps.HttpToHttps.after_accept"]  # fmt: skip
    going, msg = on_message(plugins, "a/b.txt")
    assert going and msg.to_notice().base_url == "https://example.com/"
    named = config_with(tmp_path, "nodupe_driver disk\ncallback nodupe.name\n"
                        "callback nodupe.redis\n")  # fmt: skip
    Plugins.load(named)
    assert named.nodupe_driver == "disk" and named.suppress_duplicates_basis == "name"


def test_log_logs_at_the_events_it_is_given(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    plugins = Plugins.load(config_with(tmp_path, "logEvents after_accept\ncallback log\n"))
    going, msg = on_message(plugins, "a/b.txt")
    assert going
    plugins.run("after_work", msg, "done")
    accepted = [r.message for r in caplog.records if r.name == "sarra.flowcb.log"]
    assert accepted == ["accepted http://example.com/a/b.txt (lag 0.00s) for /out/a/b.txt"] or (
        len(accepted) == 1 and accepted[0].startswith("accepted http://example.com/a/b.txt")
    )
    assert plugins.metrics()["log.Log"]["lagMessageCount"] == 1


def test_after_work_sees_each_outcome_in_its_list_and_may_stop_a_done_notice(
    tmp_path: Path, sr3_plugins: Path
) -> None:
    (sr3_plugins / "worked.py").write_text(
        "from sarracenia.flowcb import FlowCB\n"
        "class Worked(FlowCB):\n"
        "    lists = []\n"
        "    def after_work(self, worklist):\n"
        "        Worked.lists.append([n for n in ('ok','rejected','failed')\n"
        "                             if getattr(worklist, n)])\n"
        "        for m in list(worklist.ok):\n"
        "            if m['relPath'].endswith('.tmp'):\n"
        "                worklist.ok.remove(m)\n"
        "                worklist.rejected.append(m)\n"
    )
    plugins = Plugins.load(config_with(tmp_path, "callback worked\n"))
    for status in ("done", "skipped", "transient", "permanent"):
        assert plugins.run("after_work", plugins.message(a_notice()), status)
    assert plugins.run("after_work", plugins.message(a_notice("a/b.tmp")), "done") is False
    worked = sys.modules["worked"].Worked
    assert worked.lists == [["ok"], ["rejected"], ["failed"], ["rejected"], ["ok"]]


def test_gather_brings_notices_and_scheduled_poll_gates_the_listing(
    tmp_path: Path, sr3_plugins: Path
) -> None:
    (sr3_plugins / "bring.py").write_text(
        "import sarracenia\nfrom sarracenia.flowcb import FlowCB\n"
        "class Bring(FlowCB):\n"
        "    def gather(self, count):\n"
        "        m = sarracenia.Message()\n"
        "        m.update(pubTime=sarracenia.nowstr(), baseUrl='http://h/', relPath='x/y')\n"
        "        return (True, [m, {'relPath': 'no base url'}])\n"
    )
    plugins = Plugins.load(config_with(tmp_path, "callback bring\n"))
    keep_going, notices = plugins.gather(10)
    assert keep_going and [n.url for n in notices] == ["http://h/x/y"]
    scheduled = Plugins.load(config_with(tmp_path, "scheduled_interval 1h\ncallback "
                                         "scheduled.poll\ncallback bring\n"))  # fmt: skip
    assert scheduled.gather(10)[0] is True  # the first appointment: at the start
    assert scheduled.gather(10) == (False, [])  # the next one in an hour: no listing, no more


def test_scheduled_appointments(tmp_path: Path) -> None:
    from sarra.compat.sr3.builtins.scheduled import Scheduled

    plugins = Plugins.load(config_with(tmp_path, "scheduled_hour 1,13\nscheduled_minute 5,35\n"
                                       "scheduled_time 23:59\ncallback scheduled\n"))  # fmt: skip
    callback = plugins.hooks["on_heartbeat"][0].function.__closure__[0].cell_contents.__self__
    assert isinstance(callback, Scheduled)
    assert callback.times == [(1, 5), (1, 35), (13, 5), (13, 35), (23, 59)]
    import datetime

    moment = datetime.datetime(2024, 5, 1, 13, 20, tzinfo=datetime.UTC)
    assert callback._after(moment) == moment.replace(minute=35)
    late = datetime.datetime(2024, 5, 1, 23, 59, 30, tzinfo=datetime.UTC)
    assert callback._after(late) == datetime.datetime(2024, 5, 2, 1, 5, tzinfo=datetime.UTC)


def test_the_shim_never_shadows_a_real_sarracenia(tmp_path: Path) -> None:
    real = tmp_path / "site" / "sarracenia"
    (real / "flowcb").mkdir(parents=True)
    (real / "__init__.py").write_text("REAL = True\n")
    (real / "flowcb" / "__init__.py").write_text("class FlowCB:\n    real = True\n")
    saved = {n: m for n, m in sys.modules.items() if n.split(".")[0] == "sarracenia"}
    for name in saved:
        del sys.modules[name]
    sys.path.insert(0, str(tmp_path / "site"))
    try:
        shim.install()
        import sarracenia.flowcb  # type: ignore[import-not-found]

        assert sarracenia.REAL and sarracenia.flowcb.FlowCB.real and not shim.serving()
        with pytest.raises(ModuleNotFoundError):
            import sarracenia.flowcb.log  # the real one has none: not ours either
    finally:
        sys.path.remove(str(tmp_path / "site"))
        for name in [n for n in sys.modules if n.split(".")[0] == "sarracenia"]:
            del sys.modules[name]
        sys.modules.update(saved)


def test_events_run_and_please_stop_comes_before_on_stop(tmp_path: Path, sr3_plugins: Path) -> None:
    (sr3_plugins / "events.py").write_text(
        "from sarracenia.flowcb import FlowCB\n"
        "class Events(FlowCB):\n"
        "    calls = []\n"
        "    def on_start(self): Events.calls.append('start')\n"
        "    def on_housekeeping(self): Events.calls.append('housekeeping')\n"
        "    def please_stop(self):\n"
        "        super().please_stop(); Events.calls.append('please_stop')\n"
        "    def on_stop(self): Events.calls.append('stop')\n"
        "    def metricsReport(self): return {'calls': len(Events.calls)}\n"
    )
    plugins = Plugins.load(config_with(tmp_path, "callback events\n"), stop=threading.Event())
    for entry in ("on_start", "on_heartbeat", "on_stop"):
        plugins.event(entry)
    events = sys.modules["events"].Events
    assert events.calls == ["start", "housekeeping", "please_stop", "stop"]
    assert plugins.metrics() == {"events.Events": {"calls": 4}}


def test_resources_restarts_the_instance_above_its_memory_limit(tmp_path: Path) -> None:
    stop, calm = threading.Event(), threading.Event()
    tight = config_with(tmp_path, "MemoryMax 1k\ncallback housekeeping.resources\n")
    roomy = config_with(tmp_path, "MemoryMax 1t\ncallback housekeeping.resources\n")
    try:
        Plugins.load(tight, stop=stop).event("on_heartbeat")
        assert stop.is_set() and plugins_module.RESTART.is_set()  # resident is more than 1k
        plugins_module.RESTART.clear()
        Plugins.load(roomy, stop=calm).event("on_heartbeat")
        assert not calm.is_set() and not plugins_module.RESTART.is_set()
    finally:
        plugins_module.RESTART.clear()


def test_destfn_download_send_and_poll_entry_points(tmp_path: Path, sr3_plugins: Path) -> None:
    (sr3_plugins / "mover.py").write_text(
        "import sarracenia\nfrom sarracenia.flowcb import FlowCB\n"
        "class Mover(FlowCB):\n"
        "    answer = True\n"
        "    def destfn(self, msg):\n"
        "        return 'to_' + msg['new_file']\n"
        "    def download(self, msg):\n"
        "        return Mover.answer\n"
        "    def send(self, msg):\n"
        "        return Mover.answer\n"
        "    def poll(self):\n"
        "        m = sarracenia.Message()\n"
        "        m.update(pubTime=sarracenia.nowstr(), baseUrl='sftp://h/', relPath='p/q')\n"
        "        return [m]\n"
    )
    plugins = Plugins.load(config_with(tmp_path, "callback mover\n"))
    msg = plugins.message(a_notice(), new_dir="/out/a", new_file="b.txt")
    plugins.run("destfn_script", msg)
    assert msg.new_file == "to_b.txt"
    assert plugins.transfer("do_download", "http", msg) is True  # every scheme, built-in too
    mover = sys.modules["mover"].Mover
    for answer, expected in ((False, False), (0, False), (1, True)):
        mover.answer = answer
        assert plugins.transfer("do_send", "sftp", msg) is expected
    mover.answer = -1
    with pytest.raises(PluginFailed) as failed:
        plugins.transfer("do_send", "sftp", msg)
    assert failed.value.permanent
    posted: list[Notice] = []
    plugins.parent.poster = lambda notice: posted.append(notice) or True
    assert plugins.transfer("do_poll", "sftp", None) is True
    assert [n.url for n in posted] == ["sftp://h/p/q"]
