import Foundation
import Testing
@testable import VigilCore

struct QRMatrixFixture: Sendable, CustomTestStringConvertible {
    let name: String
    let bytes: [UInt8]
    let version: Int
    let errorCorrection: QRCode.ErrorCorrection
    let mask: Int
    /// The mask python-qrcode chooses for these bytes at this version and level.
    let referenceAutoMask: Int
    let rows: [String]
    var testDescription: String { name }
}

struct QRFingerprintFixture: Sendable, CustomTestStringConvertible {
    let version: Int
    let errorCorrection: QRCode.ErrorCorrection
    /// The most bytes this version and level hold in byte mode.
    let count: Int
    let fingerprint: UInt64
    let referenceAutoMask: Int
    var bytes: [UInt8] { (0..<count).map { UInt8((37 * $0 + version) % 256) } }
    var testDescription: String { "v\(version)-\(errorCorrection)" }
}

@Suite("QR codes")
struct QRCodeTests {
    // MARK: Against a reference implementation

    @Test(arguments: qrMatrixFixtures)
    func matrixEqualsTheReference(_ fixture: QRMatrixFixture) throws {
        let code = try QRCode(bytes: fixture.bytes, errorCorrection: fixture.errorCorrection, version: fixture.version, mask: fixture.mask)
        #expect(code.size == fixture.rows.count)
        #expect(code.version == fixture.version && code.mask == fixture.mask)
        let drawn = Self.hexRows(code)
        for (y, (ours, theirs)) in zip(drawn, fixture.rows).enumerated() where ours != theirs {
            Issue.record("row \(y): \(ours) ≠ \(theirs)")
        }
    }

    @Test(arguments: qrFingerprintFixtures)
    func everyVersionAndLevelEqualsTheReference(_ fixture: QRFingerprintFixture) throws {
        let code = try QRCode(bytes: fixture.bytes, errorCorrection: fixture.errorCorrection, version: fixture.version, mask: fixture.version % 8)
        #expect(code.fingerprint == fixture.fingerprint)
        // The reference's capacity is ours: one byte more does not fit this version.
        #expect(throws: QRCode.Problem.dataTooLong(bytes: fixture.count + 1)) {
            try QRCode(bytes: fixture.bytes + [0], errorCorrection: fixture.errorCorrection, version: fixture.version)
        }
        let auto = try QRCode(bytes: fixture.bytes, errorCorrection: fixture.errorCorrection)
        #expect(auto.version == fixture.version, "the smallest version that holds the bytes")
    }

    /// Masks are scored before format and version information are drawn (§7.1,
    /// steps 6 and 7), as python-qrcode does. Its rule 3 departs from the standard
    /// and we follow the standard: it looks for 10111010000 / 00001011101 inside
    /// the symbol only, so a 1:1:3:1:1 pattern against the edge — every finder
    /// pattern's middle rows and columns, where the quiet zone is light — costs
    /// nothing unless the data beside the finder happens to be light, and one with
    /// light on both sides costs 80 instead of 40. (ZXing, libqrencode and segno
    /// count the quiet zone as light, once per pattern, as we do.) That changes the
    /// choice in about half of these cases, so the check is twofold: a port of its
    /// scoring over our eight masked symbols picks exactly the mask it picked
    /// (our masking and our reading of its rules agree with it), and our own choice
    /// is the lowest standard penalty of the same eight symbols.
    @Test func automaticMaskFollowsTheStandardPenaltyAndExplainsTheReference() throws {
        let cases: [(String, [UInt8], QRCode.ErrorCorrection, Int, Int)] =
            qrMatrixFixtures.map { ($0.name, $0.bytes, $0.errorCorrection, $0.version, $0.referenceAutoMask) }
            + qrFingerprintFixtures.filter { $0.version <= 12 }
                .map { ($0.testDescription, $0.bytes, $0.errorCorrection, $0.version, $0.referenceAutoMask) }
        for (name, bytes, level, version, reference) in cases {
            let masked = try (0...7).map { try QRCode(bytes: bytes, errorCorrection: level, version: version, mask: $0) }
            let beforeFormat = masked.map(Self.withoutFormatAndVersion)
            let referenceScores = beforeFormat.map(Self.pythonQRCodePenalty)
            #expect(referenceScores.firstIndex(of: referenceScores.min()!) == reference, "\(name)")

            let standardScores = beforeFormat.map { QRCode.penalty(Array($0.joined()), size: $0.count) }
            let ours = try QRCode(bytes: bytes, errorCorrection: level, version: version)
            #expect(ours.mask == standardScores.firstIndex(of: standardScores.min()!), "\(name)")
            #expect(ours == masked[ours.mask])
        }
    }

    // MARK: Penalty rules, by hand

    @Test func penaltyOfAnAllLightSymbol() {
        let size = 21
        // N1: 42 lines of 21 → 42 × (3 + 16); N2: 20 × 20 blocks × 3; N3: none; N4: 50 % off → 10 × 10.
        #expect(QRCode.penalty(Array(repeating: false, count: size * size), size: size) == 42 * 19 + 1200 + 100)
    }

    @Test func penaltyRule3CountsTheQuietZoneAsLight() {
        let size = 21
        // A checkerboard scores nothing under N1–N3 and 0 under N4 (220 of 441 dark is within 5 %).
        var modules = (0..<size * size).map { ($0 / size + $0 % size) % 2 == 0 }
        let base = QRCode.penalty(modules, size: size)
        #expect(base == 0)
        // Row 10: 1011101 at the left edge, then light; the quiet zone is light too.
        let row = [true, false, true, true, true, false, true, false, false, false, false]
        for (x, dark) in row.enumerated() { modules[10 * size + x] = dark }
        let scored = QRCode.penalty(modules, size: size) - base
        // The row change also makes runs and blocks; rule 3 must add exactly one 40 to them.
        var withoutRule3 = 0
        var m = modules
        m[10 * size + 4] = false // breaks the 1:1:3:1:1 core only
        withoutRule3 = QRCode.penalty(m, size: size) - base
        #expect(scored - withoutRule3 >= 40)
        #expect(scored > 0)
    }

    // MARK: API

    @Test func refusesWhatItCannotEncode() {
        #expect(throws: QRCode.Problem.dataTooLong(bytes: 15)) { try QRCode(bytes: Array(repeating: 65, count: 15), version: 1) }
        #expect(throws: QRCode.Problem.dataTooLong(bytes: 3000)) { try QRCode(bytes: Array(repeating: 65, count: 3000)) }
        #expect(throws: QRCode.Problem.invalidVersion(41)) { try QRCode(bytes: [65], version: 41) }
        #expect(throws: QRCode.Problem.invalidVersion(0)) { try QRCode(bytes: [65], version: 0) }
        #expect(throws: QRCode.Problem.invalidMask(8)) { try QRCode(bytes: [65], mask: 8) }
        #expect((try? QRCode(bytes: Array(repeating: 65, count: 2953), errorCorrection: .low))?.version == 40)
        #expect((try? QRCode(bytes: [], errorCorrection: .high))?.version == 1)
    }

    @Test func svgIsOneTitledPathAndDeterministic() throws {
        let code = try QRCode(bytes: Array("otpauth://totp/Vigil:jane".utf8))
        let hostile = "<script>alert(1)</script> & \"\u{301} 'x'"
        let svg = code.svg(title: hostile, moduleSize: 3, quietZone: 2)
        #expect(svg == code.svg(title: hostile, moduleSize: 3, quietZone: 2))
        let extent = code.size + 4
        #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(extent) \(extent)\" width=\"\(extent * 3)\" height=\"\(extent * 3)\" role=\"img\" aria-labelledby=\"qr-"))
        #expect(svg.hasSuffix("</svg>"))
        #expect(svg.components(separatedBy: "<path ").count == 2)
        #expect(svg.contains("shape-rendering=\"crispEdges\""))
        #expect(svg.contains("<title id=\"qr-\(String(code.fingerprint, radix: 16))\">&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;\u{301} &apos;x&apos;</title>"))
        #expect(svg.contains("aria-labelledby=\"qr-\(String(code.fingerprint, radix: 16))\""))
        #expect(!svg.contains("<script"))
        #expect(!svg.contains("href"))
        // The finder's top row at the quiet-zone offset is one run of seven.
        #expect(svg.contains("d=\"M2 2h7v1h-7z"))
        // Runs are merged: no path segment for a single module next to another on its row.
        let other = try QRCode(bytes: Array("otpauth://totp/Vigil:john".utf8))
        #expect(other.svg(title: "t").contains("aria-labelledby=\"qr-\(String(other.fingerprint, radix: 16))\""))
        #expect(other.fingerprint != code.fingerprint)
    }

    // MARK: A real reader

    static let decodeCases: [(String, QRCode.ErrorCorrection, Int?, Int?)] = [
        ("otpauth://totp/Vigil%20Newsroom:jane.doe%40example.org?secret=JBSWY3DPEHPK3PXPJBSWY3DP&issuer=Vigil%20Newsroom&period=30", .medium, nil, nil),
        ("HELLO", .low, nil, nil),
        ("HELLO", .quartile, nil, nil),
        ("HELLO", .high, nil, nil),
        ("Привет, Vigil — проверка", .medium, nil, nil),
        ("Version seven carries version information in two 6x3 blocks.", .high, 7, nil),
        (String(repeating: "Urgent Action 126/19. ", count: 30), .quartile, nil, nil),
    ] + (0...7).map { (mask: Int) in ("mask \(mask): https://vigil.example/ua/126-19", .medium, nil, mask) }

    @Test(arguments: decodeCases.indices)
    func zbarReadsWhatWeDraw(_ index: Int) throws {
        let (text, level, version, mask) = Self.decodeCases[index]
        let code = try QRCode(bytes: Array(text.utf8), errorCorrection: level, version: version, mask: mask)
        let decoded = try Self.decodeWithZbar(code.svg(title: "test"))
        #expect(decoded == text, "v\(code.version) mask \(code.mask)")
    }

    // MARK: Helpers

    static func hexRows(_ code: QRCode) -> [String] {
        (0..<code.size).map { y in
            var bits = (0..<code.size).map { code.isDark(x: $0, y: y) }
            bits += Array(repeating: false, count: (4 - bits.count % 4) % 4)
            return stride(from: 0, to: bits.count, by: 4).map { i in
                let nibble = bits[i..<i + 4].reduce(0) { $0 << 1 | ($1 ? 1 : 0) }
                return String(nibble, radix: 16)
            }.joined()
        }
    }

    /// The symbol as it is when masks are scored: format and version information,
    /// and the dark module, not yet drawn (light). Rows of modules.
    static func withoutFormatAndVersion(_ code: QRCode) -> [[Bool]] {
        let n = code.size
        var m = (0..<n).map { y in (0..<n).map { x in code.isDark(x: x, y: y) } }
        for i in 0...8 where i != 6 { m[8][i] = false; m[i][8] = false }
        for i in 0..<8 { m[8][n - 1 - i] = false; m[n - 1 - i][8] = false }
        if code.version >= 7 {
            for i in 0..<6 { for j in n - 11..<n - 8 { m[i][j] = false; m[j][i] = false } }
        }
        return m
    }

    /// `lost_point` of python-qrcode 8.2.
    static func pythonQRCodePenalty(_ m: [[Bool]]) -> Int {
        let n = m.count
        func line(_ k: Int, _ vertical: Bool) -> [Bool] { vertical ? (0..<n).map { m[$0][k] } : m[k] }
        var score = 0
        for vertical in [false, true] {
            for k in 0..<n {
                let l = line(k, vertical)
                var run = 1
                for i in 1...n {
                    if i < n, l[i] == l[i - 1] { run += 1 } else { if run >= 5 { score += run - 2 }; run = 1 }
                }
                let p1 = [true, false, true, true, true, false, true, false, false, false, false]
                for i in 0..<(n - 10) {
                    let window = Array(l[i..<i + 11])
                    if window == p1 || window == p1.reversed() { score += 40 }
                }
            }
        }
        for y in 0..<n - 1 {
            for x in 0..<n - 1 where m[y][x] == m[y][x + 1] && m[y][x] == m[y + 1][x] && m[y][x] == m[y + 1][x + 1] {
                score += 3
            }
        }
        let dark = m.joined().filter { $0 }.count
        score += 10 * Int(abs(Double(dark) / Double(n * n) * 100 - 50) / 5)
        return score
    }

    enum ToolProblem: Error, CustomStringConvertible {
        case missing(tool: String, package: String)
        case failed(tool: String, status: Int32, output: String)
        var description: String {
            switch self {
            case let .missing(tool, package): "\(tool) not found on PATH: install the Debian package \(package) (apt-get install \(package))"
            case let .failed(tool, status, output): "\(tool) exited with \(status): \(output)"
            }
        }
    }

    static func executable(_ name: String, package: String) throws -> URL {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(directory)).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw ToolProblem.missing(tool: name, package: package)
    }

    static func run(_ tool: URL, _ arguments: [String]) throws -> Data {
        let process = Process()
        process.executableURL = tool
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ToolProblem.failed(tool: tool.lastPathComponent, status: process.terminationStatus,
                                     output: String(decoding: data + errors, as: UTF8.self))
        }
        return data
    }

    /// SVG → PNG with rsvg-convert, PNG → text with zbarimg.
    static func decodeWithZbar(_ svg: String) throws -> String {
        let rsvg = try executable("rsvg-convert", package: "librsvg2-bin")
        let zbar = try executable("zbarimg", package: "zbar-tools")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-qr-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let svgFile = directory.appendingPathComponent("code.svg"), pngFile = directory.appendingPathComponent("code.png")
        try Data(svg.utf8).write(to: svgFile)
        _ = try run(rsvg, ["--format=png", "--output=\(pngFile.path)", svgFile.path])
        let output = try run(zbar, ["--raw", "-q", pngFile.path])
        var text = String(decoding: output, as: UTF8.self)
        if text.hasSuffix("\n") { text.removeLast() }
        return text
    }
}

// The fixtures in Fixtures/QRCodeFixtures.swift come from this script
// (pip install qrcode; python3 gen.py > Tests/VigilCoreTests/Fixtures/QRCodeFixtures.swift):
//
// # Generates Tests/VigilCoreTests/Fixtures/QRCodeFixtures.swift with python-qrcode (pip install qrcode).
// import importlib.metadata, qrcode
// from qrcode import util
//
// ECL = {"low": qrcode.constants.ERROR_CORRECT_L, "medium": qrcode.constants.ERROR_CORRECT_M,
//        "quartile": qrcode.constants.ERROR_CORRECT_Q, "high": qrcode.constants.ERROR_CORRECT_H}
//
// def matrix(data, version, ecl, mask):
//     qr = qrcode.QRCode(version=version, error_correction=ECL[ecl], mask_pattern=mask, border=0)
//     qr.add_data(util.QRData(data, mode=util.MODE_8BIT_BYTE))
//     qr.make(fit=version is None)
//     return qr
//
// def best(data, version, ecl):
//     qr = qrcode.QRCode(version=version, error_correction=ECL[ecl], border=0)
//     qr.add_data(util.QRData(data, mode=util.MODE_8BIT_BYTE))
//     qr.make(fit=version is None)
//     return qr.best_mask_pattern(), qr.version
//
// def fnv(qr):
//     h = 0xcbf29ce484222325
//     for row in qr.modules:
//         for m in row:
//             h ^= 1 if m else 0
//             h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
//     return h
//
// def hexrows(qr):
//     out = []
//     for row in qr.modules:
//         bits = "".join("1" if m else "0" for m in row)
//         bits += "0" * (-len(bits) % 4)
//         out.append("%0*x" % (len(bits) // 4, int(bits, 2)))
//     return out
//
// def swift_string(b):
//     return '"' + b.decode("ascii").replace("\\", "\\\\").replace('"', '\\"') + '"'
//
// cases = [
//     ("v1-L-m0", b"HELLO WORLD", 1, "low", 0),
//     ("v1-M-m2", b"vigil.example", 1, "medium", 2),
//     ("v1-Q-m5", b"01234567", 1, "quartile", 5),
//     ("v1-H-m7", b"Vigil", 1, "high", 7),
//     ("v2-M-m3", b"Urgent Action 126/19", 2, "medium", 3),
//     ("v5-Q-m4", b"The quick brown fox jumps over the lazy dog. 0123456789", 5, "quartile", 4),
//     ("v7-H-m1", b"Version seven carries version information in two 6x3 blocks.", 7, "high", 1),
//     ("v8-M-m6-otpauth", b"otpauth://totp/Vigil%20Newsroom:jane.doe%40example.org?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Vigil%20Newsroom&algorithm=SHA1&digits=6&period=30", 8, "medium", 6),
//     ("v10-L-m2", bytes(range(0, 256, 3)), 10, "low", 2),
//     ("v14-Q-m0", b"fourteen " * 20, 14, "quartile", 0),
// ]
//
// out = []
// w = out.append
// w("// Generated by the script at the end of QRCodeTests.swift from python-qrcode %s; do not edit by hand." % importlib.metadata.version("qrcode"))
// w("")
// w("/// Module matrices drawn by python-qrcode with version, level and mask forced;")
// w("/// each row is hex, most significant bit the leftmost module, padded with zeros.")
// w("let qrMatrixFixtures: [QRMatrixFixture] = [")
// for name, data, v, ecl, mask in cases:
//     qr = matrix(data, v, ecl, mask)
//     assert qr.version == v
//     am, _ = best(data, v, ecl)
//     w("    QRMatrixFixture(")
//     w("        name: %s, bytes: %s, version: %d, errorCorrection: .%s, mask: %d, referenceAutoMask: %d," % (swift_string(name.encode()), "[" + ", ".join(str(b) for b in data) + "]" if any(b < 32 or b > 126 for b in data) else "Array(" + swift_string(data) + ".utf8)", v, ecl, mask, am))
//     w("        rows: [")
//     for r in hexrows(qr):
//         w('            "%s",' % r)
//     w("        ]),")
// w("]")
// w("")
// w("/// For every version and level, the largest byte-mode payload (byte i = (37 i + version) mod 256),")
// w("/// with mask = version mod 8: FNV-1a 64 of the module matrix (row-major, one byte 0/1 per module),")
// w("/// and the mask python-qrcode picks by itself.")
// w("let qrFingerprintFixtures: [QRFingerprintFixture] = [")
// for v in range(1, 41):
//     for ecl in ["low", "medium", "quartile", "high"]:
//         bits = util.BIT_LIMIT_TABLE[ECL[ecl]][v]
//         cc = 8 if v < 10 else 16
//         n = (bits - 4 - cc) // 8
//         data = bytes((37 * i + v) % 256 for i in range(n))
//         qr = matrix(data, v, ecl, v % 8)
//         assert qr.version == v
//         am, _ = best(data, v, ecl)
//         w("    QRFingerprintFixture(version: %d, errorCorrection: .%s, count: %d, fingerprint: 0x%016x, referenceAutoMask: %d)," % (v, ecl, n, fnv(qr), am))
// w("]")
// print("\n".join(out))
