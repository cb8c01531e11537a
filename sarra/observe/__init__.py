"""What operators look at: the state of every config of the host, for people (`sr status`),
for programs (`sr status --json`, Prometheus at /metrics) and as a live web page.

    status      ConfigStatus records from the configs, pid files, figures and logs on disk
    text        the lines of `sr status` for people
    logs        the end of an instance's log, redacted
    prometheus  the collector that turns the records into metrics (prometheus_client)
    server      one HTTP endpoint per host: the dashboard, /metrics, /api/status, /api/log
    static/     the dashboard: plain HTML, CSS and JavaScript, no build step

Instances never import this package: they write their figures (sarra.flow.metrics) and this
package reads them.
"""
