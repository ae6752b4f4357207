/// A QR code symbol (ISO/IEC 18004:2015, model 2) holding bytes in byte mode.
///
/// Only byte mode is implemented: the newsroom encodes `otpauth://` URIs, and one
/// mode keeps the encoder small enough to check by reading. Versions 1–40, all four
/// error-correction levels, all eight masks.
public struct QRCode: Sendable, Equatable {
    public enum ErrorCorrection: Sendable, CaseIterable {
        /// Recovers about 7 % of codewords.
        case low
        /// Recovers about 15 % of codewords.
        case medium
        /// Recovers about 25 % of codewords.
        case quartile
        /// Recovers about 30 % of codewords.
        case high

        /// The two bits of the format information (Table 12): L 01, M 00, Q 11, H 10.
        var indicator: Int {
            switch self {
            case .low: 1
            case .medium: 0
            case .quartile: 3
            case .high: 2
            }
        }

        var tableIndex: Int {
            switch self {
            case .low: 0
            case .medium: 1
            case .quartile: 2
            case .high: 3
            }
        }
    }

    public enum Problem: Error, Sendable, Equatable {
        /// The bytes do not fit in the requested version (or in version 40).
        case dataTooLong(bytes: Int)
        case invalidVersion(Int)
        case invalidMask(Int)
    }

    /// 1…40; the symbol is `17 + 4 × version` modules wide.
    public let version: Int
    public let errorCorrection: ErrorCorrection
    /// 0…7, the data mask pattern actually applied.
    public let mask: Int
    /// Width and height in modules, without the quiet zone.
    public let size: Int
    /// Row-major, `true` for dark.
    let modules: [Bool]

    /// Encodes `bytes` in byte mode. Without `version`, the smallest version that
    /// holds the data; without `mask`, the mask with the lowest penalty (ISO/IEC
    /// 18004:2015 §7.8.3).
    public init(bytes: [UInt8], errorCorrection: ErrorCorrection = .medium, version: Int? = nil, mask: Int? = nil) throws {
        if let version, !(1...40).contains(version) { throw Problem.invalidVersion(version) }
        if let mask, !(0...7).contains(mask) { throw Problem.invalidMask(mask) }
        let chosenVersion: Int
        if let version {
            guard Self.fits(bytes.count, version: version, errorCorrection) else { throw Problem.dataTooLong(bytes: bytes.count) }
            chosenVersion = version
        } else {
            guard let v = (1...40).first(where: { Self.fits(bytes.count, version: $0, errorCorrection) }) else {
                throw Problem.dataTooLong(bytes: bytes.count)
            }
            chosenVersion = v
        }
        let codewords = Self.codewords(Self.dataCodewords(bytes, version: chosenVersion, errorCorrection), version: chosenVersion, errorCorrection)
        var grid = Grid(version: chosenVersion)
        grid.drawFunctionPatterns()
        grid.placeCodewords(codewords)

        let chosenMask: Int
        if let mask {
            chosenMask = mask
        } else {
            // Masks are scored before the format and version information are
            // drawn (§7.1 steps 6 and 7): their modules, and the dark module,
            // are still light, as in segno and python-qrcode.
            var best = (mask: 0, penalty: Int.max)
            for candidate in 0...7 {
                var trial = grid
                trial.applyMask(candidate)
                let p = Self.penalty(trial.modules, size: trial.size)
                if p < best.penalty { best = (candidate, p) }
            }
            chosenMask = best.mask
        }
        grid.applyMask(chosenMask)
        grid.drawFormatBits(Self.formatBits(errorCorrection, mask: chosenMask), darkModule: true)
        grid.drawVersionBits(Self.versionBits(chosenVersion))

        self.version = chosenVersion
        self.errorCorrection = errorCorrection
        self.mask = chosenMask
        self.size = grid.size
        self.modules = grid.modules
    }

    /// Whether the module at column `x`, row `y` (origin top left) is dark; `false` outside the symbol.
    public func isDark(x: Int, y: Int) -> Bool {
        guard (0..<size).contains(x), (0..<size).contains(y) else { return false }
        return modules[y * size + x]
    }

    // MARK: - Capacity

    /// Error-correction codewords per block, by level (L, M, Q, H) and version (Table 9).
    static let eccCodewordsPerBlock: [[Int]] = [
        [-1, 7, 10, 15, 20, 26, 18, 20, 24, 30, 18, 20, 24, 26, 30, 22, 24, 28, 30, 28, 28, 28, 28, 30, 30, 26, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30],
        [-1, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26, 26, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28],
        [-1, 13, 22, 18, 26, 18, 24, 18, 22, 20, 24, 28, 26, 24, 20, 30, 24, 28, 28, 26, 30, 28, 30, 30, 30, 30, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30],
        [-1, 17, 28, 22, 16, 22, 28, 26, 26, 24, 28, 24, 28, 22, 24, 24, 30, 28, 28, 26, 28, 30, 24, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30],
    ]

    /// Number of error-correction blocks, by level (L, M, Q, H) and version (Table 9).
    static let eccBlocks: [[Int]] = [
        [-1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 4, 4, 6, 6, 6, 6, 7, 8, 8, 9, 9, 10, 12, 12, 12, 13, 14, 15, 16, 17, 18, 19, 19, 20, 21, 22, 24, 25],
        [-1, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16, 17, 17, 18, 20, 21, 23, 25, 26, 28, 29, 31, 33, 35, 37, 38, 40, 43, 45, 47, 49],
        [-1, 1, 1, 2, 2, 4, 4, 6, 6, 8, 8, 8, 10, 12, 16, 12, 17, 16, 18, 21, 20, 23, 23, 25, 27, 29, 34, 34, 35, 38, 40, 43, 45, 48, 51, 53, 56, 59, 62, 65, 68],
        [-1, 1, 1, 2, 4, 4, 4, 5, 6, 8, 8, 11, 11, 16, 16, 18, 16, 19, 21, 25, 25, 25, 34, 30, 32, 35, 37, 40, 42, 45, 48, 51, 54, 57, 60, 63, 66, 70, 74, 77, 81],
    ]

    /// Modules left for codewords (and remainder bits) once the function patterns,
    /// format and version information are drawn.
    static func rawDataModules(version: Int) -> Int {
        let size = 17 + 4 * version
        var n = size * size
        n -= 3 * 64 // finder patterns with their separators
        n -= 2 * (size - 16) // timing patterns between the separators
        n -= 31 // both copies of the format information, and the dark module
        let positions = alignmentPatternPositions(version: version).count
        if positions > 0 {
            // n² alignment patterns less the three under finders; those on the
            // timing lines (2 × (n − 3)) overlap five timing modules each.
            n -= 25 * (positions * positions - 3)
            n += 2 * 5 * (positions - 2)
        }
        if version >= 7 { n -= 36 }
        return n
    }

    static func totalCodewords(version: Int) -> Int { rawDataModules(version: version) / 8 }

    static func dataCodewordCount(version: Int, _ ecl: ErrorCorrection) -> Int {
        totalCodewords(version: version)
            - eccCodewordsPerBlock[ecl.tableIndex][version] * eccBlocks[ecl.tableIndex][version]
    }

    static func characterCountBits(version: Int) -> Int { version <= 9 ? 8 : 16 }

    static func fits(_ count: Int, version: Int, _ ecl: ErrorCorrection) -> Bool {
        let countBits = characterCountBits(version: version)
        guard count < 1 << countBits else { return false }
        return 4 + countBits + 8 * count <= 8 * dataCodewordCount(version: version, ecl)
    }

    /// Row and column coordinates of alignment pattern centres (Annex E): the first
    /// is 6, the last `size − 7`, the rest evenly spaced by an even step.
    static func alignmentPatternPositions(version: Int) -> [Int] {
        guard version >= 2 else { return [] }
        let count = version / 7 + 2
        let last = 4 * version + 10
        let step = version == 32 ? 26 : (version * 4 + count * 2 + 1) / (count * 2 - 2) * 2
        var positions = [6]
        for i in stride(from: count - 2, through: 0, by: -1) { positions.append(last - i * step) }
        return positions
    }

    // MARK: - Codewords

    /// Mode indicator, count, data, terminator, bit padding and pad codewords (§7.4).
    static func dataCodewords(_ bytes: [UInt8], version: Int, _ ecl: ErrorCorrection) -> [UInt8] {
        let capacity = dataCodewordCount(version: version, ecl)
        var bits = BitBuffer()
        bits.append(0b0100, count: 4)
        bits.append(bytes.count, count: characterCountBits(version: version))
        for b in bytes { bits.append(Int(b), count: 8) }
        bits.append(0, count: min(4, capacity * 8 - bits.count))
        bits.append(0, count: (8 - bits.count % 8) % 8)
        var out = bits.bytes
        var pad: UInt8 = 0xEC
        while out.count < capacity {
            out.append(pad)
            pad = pad == 0xEC ? 0x11 : 0xEC
        }
        return out
    }

    /// Splits data into blocks, adds Reed–Solomon codewords and interleaves (§7.5–7.6).
    static func codewords(_ data: [UInt8], version: Int, _ ecl: ErrorCorrection) -> [UInt8] {
        let blocks = eccBlocks[ecl.tableIndex][version]
        let eccLength = eccCodewordsPerBlock[ecl.tableIndex][version]
        let total = totalCodewords(version: version)
        // Blocks of the second group hold one more data codeword than the first.
        let longBlocks = total % blocks
        let shortDataLength = total / blocks - eccLength
        let generator = ReedSolomon.generator(degree: eccLength)
        var dataBlocks: [ArraySlice<UInt8>] = []
        var eccBlocks: [[UInt8]] = []
        var start = 0
        for i in 0..<blocks {
            let length = shortDataLength + (i >= blocks - longBlocks ? 1 : 0)
            let block = data[start..<start + length]
            start += length
            dataBlocks.append(block)
            eccBlocks.append(ReedSolomon.remainder(Array(block), generator: generator))
        }
        var out: [UInt8] = []
        out.reserveCapacity(total)
        for i in 0...shortDataLength {
            for block in dataBlocks where i < block.count { out.append(block[block.startIndex + i]) }
        }
        for i in 0..<eccLength {
            for block in eccBlocks { out.append(block[i]) }
        }
        return out
    }

    // MARK: - Format, version, mask selection

    /// Level and mask, BCH(15,5) with generator 10100110111, XORed with
    /// 101010000010010 so that no format information is all light (§7.9.1).
    static func formatBits(_ ecl: ErrorCorrection, mask: Int) -> Int {
        let data = ecl.indicator << 3 | mask
        var remainder = data
        for _ in 0..<10 { remainder = (remainder << 1) ^ ((remainder >> 9) * 0x537) }
        return (data << 10 | remainder) ^ 0x5412
    }

    /// The version, BCH(18,6) with generator 1111100100101 (§7.10).
    static func versionBits(_ version: Int) -> Int {
        var remainder = version
        for _ in 0..<12 { remainder = (remainder << 1) ^ ((remainder >> 11) * 0x1F25) }
        return version << 12 | remainder
    }

    /// The four penalty rules of §7.8.3.1 (Table 11) over the whole symbol.
    ///
    /// N1: runs of five or more same-coloured modules in a row or column score
    /// 3 + (length − 5). N2: every 2 × 2 block of one colour scores 3 (blocks may
    /// overlap). N3: every 1:1:3:1:1 dark–light–dark–light–dark pattern with four
    /// light modules before or after it scores 40; the quiet zone around the symbol
    /// is light, so it counts as light. N4: 10 for each whole 5 % by which the
    /// proportion of dark modules departs from 50 %.
    static func penalty(_ modules: [Bool], size: Int) -> Int {
        var score = 0
        // One row or column at a time, with four light quiet-zone modules on each side.
        var line = [Bool](repeating: false, count: size + 8)
        for horizontal in [true, false] {
            for k in 0..<size {
                for i in 0..<size { line[i + 4] = horizontal ? modules[k * size + i] : modules[i * size + k] }
                // N1
                var run = 1
                for i in 5...(size + 4) {
                    if i < size + 4, line[i] == line[i - 1] {
                        run += 1
                    } else {
                        if run >= 5 { score += 3 + (run - 5) }
                        run = 1
                    }
                }
                // N3: the 1011101 core starts at i.
                for i in 4...(size - 3) where line[i] && !line[i + 1] && line[i + 2] && line[i + 3] && line[i + 4]
                    && !line[i + 5] && line[i + 6] {
                    let lightBefore = !line[i - 1] && !line[i - 2] && !line[i - 3] && !line[i - 4]
                    let lightAfter = !line[i + 7] && !line[i + 8] && !line[i + 9] && !line[i + 10]
                    if lightBefore || lightAfter { score += 40 }
                }
            }
        }
        // N2
        for y in 0..<(size - 1) {
            for x in 0..<(size - 1) {
                let c = modules[y * size + x]
                if modules[y * size + x + 1] == c, modules[(y + 1) * size + x] == c, modules[(y + 1) * size + x + 1] == c {
                    score += 3
                }
            }
        }
        // N4, in integers: floor(|dark/total − 1/2| × 100 / 5).
        let dark = modules.reduce(0) { $0 + ($1 ? 1 : 0) }
        let total = size * size
        score += 10 * (abs(20 * dark - 10 * total) / total)
        return score
    }
}

// MARK: - Drawing

extension QRCode {
    /// The symbol under construction: modules, and which of them belong to
    /// function patterns (never masked, never carrying data).
    struct Grid {
        let version: Int
        let size: Int
        var modules: [Bool]
        var isFunction: [Bool]

        init(version: Int) {
            self.version = version
            size = 17 + 4 * version
            modules = Array(repeating: false, count: size * size)
            isFunction = Array(repeating: false, count: size * size)
        }

        mutating func set(_ x: Int, _ y: Int, _ dark: Bool) {
            modules[y * size + x] = dark
            isFunction[y * size + x] = true
        }

        mutating func drawFunctionPatterns() {
            // Timing patterns first: finders and alignment patterns overwrite their ends.
            for i in 0..<size {
                set(6, i, i % 2 == 0)
                set(i, 6, i % 2 == 0)
            }
            drawFinder(centreX: 3, centreY: 3)
            drawFinder(centreX: size - 4, centreY: 3)
            drawFinder(centreX: 3, centreY: size - 4)
            let positions = QRCode.alignmentPatternPositions(version: version)
            let last = positions.count - 1
            for (i, x) in positions.enumerated() {
                for (j, y) in positions.enumerated() {
                    // Not where a finder pattern already is.
                    if (i == 0 && j == 0) || (i == 0 && j == last) || (i == last && j == 0) { continue }
                    drawAlignment(centreX: x, centreY: y)
                }
            }
            // Reserve the format and version areas, light until the mask is chosen.
            drawFormatBits(0, darkModule: false)
            drawVersionBits(0)
        }

        /// The 7 × 7 finder with its one-module light separator, clipped to the symbol.
        mutating func drawFinder(centreX: Int, centreY: Int) {
            for dy in -4...4 {
                for dx in -4...4 {
                    let x = centreX + dx, y = centreY + dy
                    guard (0..<size).contains(x), (0..<size).contains(y) else { continue }
                    let ring = max(abs(dx), abs(dy))
                    set(x, y, ring != 2 && ring != 4)
                }
            }
        }

        mutating func drawAlignment(centreX: Int, centreY: Int) {
            for dy in -2...2 {
                for dx in -2...2 {
                    set(centreX + dx, centreY + dy, max(abs(dx), abs(dy)) != 1)
                }
            }
        }

        /// Format information in two copies (§7.9), and the dark module beside it.
        mutating func drawFormatBits(_ bits: Int, darkModule: Bool) {
            func bit(_ i: Int) -> Bool { (bits >> i) & 1 == 1 }
            // Around the top-left finder: bits 0–7 down column 8, bits 8–14 leftwards along row 8.
            for i in 0...5 { set(8, i, bit(i)) }
            set(8, 7, bit(6))
            set(8, 8, bit(7))
            set(7, 8, bit(8))
            for i in 9..<15 { set(14 - i, 8, bit(i)) }
            // Second copy: bits 0–7 along row 8 from the right, bits 8–14 down column 8 at the bottom.
            for i in 0..<8 { set(size - 1 - i, 8, bit(i)) }
            for i in 8..<15 { set(8, size - 15 + i, bit(i)) }
            set(8, size - 8, darkModule)
        }

        /// Version information (§7.10, v ≥ 7), beside the top-right and bottom-left finders.
        mutating func drawVersionBits(_ bits: Int) {
            guard version >= 7 else { return }
            for i in 0..<18 {
                let dark = (bits >> i) & 1 == 1
                let a = size - 11 + i % 3, b = i / 3
                set(a, b, dark)
                set(b, a, dark)
            }
        }

        /// Places codewords in two-module columns, zig-zagging up and down from the
        /// bottom-right corner, skipping the vertical timing column (§7.7.3).
        /// Remainder bits stay light.
        mutating func placeCodewords(_ codewords: [UInt8]) {
            var i = 0
            let totalBits = codewords.count * 8
            var right = size - 1
            while right >= 1 {
                if right == 6 { right = 5 }
                let upward = (right + 1) & 2 == 0
                for vertical in 0..<size {
                    let y = upward ? size - 1 - vertical : vertical
                    for x in [right, right - 1] where !isFunction[y * size + x] && i < totalBits {
                        modules[y * size + x] = (codewords[i >> 3] >> (7 - UInt8(i & 7))) & 1 == 1
                        i += 1
                    }
                }
                right -= 2
            }
        }

        /// Data mask patterns (Table 10); i is the row, j the column.
        mutating func applyMask(_ mask: Int) {
            for i in 0..<size {
                for j in 0..<size where !isFunction[i * size + j] {
                    let invert: Bool
                    switch mask {
                    case 0: invert = (i + j) % 2 == 0
                    case 1: invert = i % 2 == 0
                    case 2: invert = j % 3 == 0
                    case 3: invert = (i + j) % 3 == 0
                    case 4: invert = (i / 2 + j / 3) % 2 == 0
                    case 5: invert = (i * j) % 2 + (i * j) % 3 == 0
                    case 6: invert = ((i * j) % 2 + (i * j) % 3) % 2 == 0
                    default: invert = ((i + j) % 2 + (i * j) % 3) % 2 == 0
                    }
                    if invert { modules[i * size + j].toggle() }
                }
            }
        }
    }

    struct BitBuffer {
        private(set) var bytes: [UInt8] = []
        private(set) var count = 0

        mutating func append(_ value: Int, count n: Int) {
            for i in stride(from: n - 1, through: 0, by: -1) {
                if count % 8 == 0 { bytes.append(0) }
                if (value >> i) & 1 == 1 { bytes[count / 8] |= 0x80 >> UInt8(count % 8) }
                count += 1
            }
        }
    }

    /// Reed–Solomon over GF(2⁸) with the QR field polynomial x⁸ + x⁴ + x³ + x² + 1 (0x11D).
    enum ReedSolomon {
        static func multiply(_ a: UInt8, _ b: UInt8) -> UInt8 {
            var a = a, b = b, product: UInt8 = 0
            while b != 0 {
                if b & 1 == 1 { product ^= a }
                a = (a & 0x80 != 0) ? (a << 1) ^ 0x1D : a << 1
                b >>= 1
            }
            return product
        }

        /// Coefficients of ∏(x − αⁱ) for i in 0..<degree, highest power first,
        /// leading 1 omitted.
        static func generator(degree: Int) -> [UInt8] {
            var coefficients = Array(repeating: UInt8(0), count: degree)
            coefficients[degree - 1] = 1
            var root: UInt8 = 1
            for _ in 0..<degree {
                for j in 0..<degree {
                    coefficients[j] = multiply(coefficients[j], root)
                    if j + 1 < degree { coefficients[j] ^= coefficients[j + 1] }
                }
                root = multiply(root, 2)
            }
            return coefficients
        }

        /// The remainder of data · x^degree divided by the generator: the error-correction codewords.
        static func remainder(_ data: [UInt8], generator: [UInt8]) -> [UInt8] {
            var result = Array(repeating: UInt8(0), count: generator.count)
            for byte in data {
                let factor = byte ^ result.removeFirst()
                result.append(0)
                for i in 0..<result.count { result[i] ^= multiply(generator[i], factor) }
            }
            return result
        }
    }
}

// MARK: - SVG

extension QRCode {
    /// A self-contained SVG: a white background and one black path of the dark
    /// modules, horizontal runs merged. `title` names the image for screen readers.
    /// The same code and title always give the same bytes.
    public func svg(title: String, moduleSize: Int = 4, quietZone: Int = 4) -> String {
        let moduleSize = max(1, moduleSize), quietZone = max(0, quietZone)
        let extent = size + 2 * quietZone
        let pixels = extent * moduleSize
        var d = ""
        for y in 0..<size {
            var x = 0
            while x < size {
                guard isDark(x: x, y: y) else { x += 1; continue }
                let start = x
                while x < size, isDark(x: x, y: y) { x += 1 }
                d += "M\(start + quietZone) \(y + quietZone)h\(x - start)v1h-\(x - start)z"
            }
        }
        // Derived from the content so that two codes on one page get different ids.
        let id = "qr-" + String(fingerprint, radix: 16)
        return """
            <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \(extent) \(extent)" width="\(pixels)" height="\(pixels)" \
            role="img" aria-labelledby="\(id)"><title id="\(id)">\(XMLText.escape(title))</title>\
            <rect width="\(extent)" height="\(extent)" fill="#fff"/>\
            <path d="\(d)" fill="#000" shape-rendering="crispEdges"/></svg>
            """
    }

    /// FNV-1a (64-bit) of the modules, row-major, one byte 0 or 1 per module.
    var fingerprint: UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for dark in modules {
            hash ^= dark ? 1 : 0
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return hash
    }
}
