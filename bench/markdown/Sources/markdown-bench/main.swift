// markdown-bench [--runs N] FILE...
//
// For each file: reads it as UTF-8, parses it once to warm up, then times `Markdown.parse` over
// N runs and prints one line: `file bytes min_ms median_ms max_ms mb_per_s blocks chars`
// (MB/s from the median; blocks and plain-text characters show the result was really built).
import Foundation
import VigilCore

var runs = 5
var files: [String] = []
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    if argument == "--runs", let n = arguments.popFirst().flatMap({ Int($0) }), n > 0 {
        runs = n
    } else if argument.hasPrefix("-") {
        FileHandle.standardError.write(Data("usage: markdown-bench [--runs N] FILE...\n".utf8))
        exit(2)
    } else {
        files.append(argument)
    }
}

let clock = ContinuousClock()
func milliseconds(_ d: Duration) -> Double {
    Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
}

for file in files {
    guard let data = FileManager.default.contents(atPath: file) else {
        FileHandle.standardError.write(Data("cannot read \(file)\n".utf8))
        exit(1)
    }
    let source = String(decoding: data, as: UTF8.self)
    let warm = Markdown.parse(source)
    let chars = warm.map { $0.plainText.count }.reduce(0, +)
    var times: [Double] = []
    for _ in 0..<runs {
        var blocks: [Markdown.Block] = []
        let elapsed = clock.measure { blocks = Markdown.parse(source) }
        precondition(blocks.count == warm.count)
        times.append(milliseconds(elapsed))
    }
    times.sort()
    let median = times[times.count / 2]
    let mbPerSecond = Double(data.count) / 1_048_576 / (median / 1000)
    print(
        String(
            format: "%@ %d %.2f %.2f %.2f %.1f %d %d", file, data.count, times[0], median, times[times.count - 1],
            mbPerSecond, warm.count, chars))
}
