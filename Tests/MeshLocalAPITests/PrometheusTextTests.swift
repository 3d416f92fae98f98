import MeshLocalAPI
import Testing

@Suite struct PrometheusTextTests {
    @Test func familiesRenderSortedWithEscapedLabels() {
        let text = PrometheusText.render([
            MetricFamily(name: "mesh_z", help: "Last.", type: .gauge, samples: [.init(value: 1.5)]),
            MetricFamily(name: "mesh_a_total", help: "Back\\slash\nnewline.", type: .counter,
                         samples: [.init(labels: ["peer": "say \"hi\"\n", "b": "x\\y"], value: 42)]),
        ])
        #expect(text == """
            # HELP mesh_a_total Back\\\\slash\\nnewline.
            # TYPE mesh_a_total counter
            mesh_a_total{b="x\\\\y",peer="say \\"hi\\"\\n"} 42
            # HELP mesh_z Last.
            # TYPE mesh_z gauge
            mesh_z 1.5

            """)
    }

    @Test func oddNumbers() {
        let t = PrometheusText.render([MetricFamily(name: "m", help: "h", type: .gauge,
                                                    samples: [.init(value: .nan), .init(value: .infinity), .init(value: 1e20)])])
        #expect(t.contains("m NaN\n") && t.contains("m +Inf\n") && t.contains("m 1e+20\n"))
    }
}
