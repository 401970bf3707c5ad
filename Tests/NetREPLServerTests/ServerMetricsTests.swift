// The Prometheus export keeps up with the server's counters: a counter added to the snapshot
// and not exported fails here, naming the fields.

import NetREPLServer
import Testing

@Suite struct ServerMetricsTests {
    @Test func everySnapshotFieldIsExported() {
        let server = UppercaseServer()
        let fields = Mirror(reflecting: server.statistics.snapshot).children.compactMap(\.label)
        #expect(
            fields.count == ServerMetrics.exported.count,
            "ServerStatistics.Snapshot has \(fields.count) fields (\(fields)) and \(ServerMetrics.exported.count) are exported: add a line for each new one to ServerMetrics.exported"
        )
    }

    @Test func aScrapeIsPrometheusText() {
        let server = UppercaseServer()
        let text = String(decoding: ServerMetrics(statistics: server.statistics, version: "9.9.9").scrape(), as: UTF8.self)
        for series in ServerMetrics.exported {
            #expect(text.contains("# TYPE netrepl_\(series.name) \(series.kind == .counter ? "counter" : "gauge")\n"))
            #expect(text.contains("# HELP netrepl_\(series.name) \(series.help)\n"))
        }
        #expect(text.contains("netrepl_build_info{version=\"9.9.9\"} 1.0\n"))
    }
}
