import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A bundle read from its JSON text one target and one case at a time.
///
/// Parsed whole, an archive's bundle became a JSON tree several times the size of its text (a
/// bundle of 48 MB: about 290 MB at the import's peak). Here the bundle's object is split by
/// `JSONSpans` without being parsed: its `targets` and `cases` arrays are read an element at a
/// time (each element's text parsed on its own, then read at once), so one case's tree is held at
/// a time, and the rest of the object (its format, anything else) is parsed as before, with those
/// arrays left empty. Every byte is still checked as JSON: the splitter checks the object's and
/// the arrays' punctuation, the characters of bare words and how deep the elements nest (the
/// parser of one element alone would take a byte-order mark before a bare word, and two levels
/// more), the parser everything else. Text in UTF-16 or UTF-32 is parsed whole, as before.
///
/// An import keeps of each case only its references and where its text lies, and reads it again
/// when it writes it (`Indexed`). A bundle in a file is split a window of the file at a time, and
/// its cases read from the file again (`BundleFile`, `FileWindow`): the import holds neither the
/// text nor the cases, whatever the archive's size.
extension VigilBundle {
    /// The keys whose arrays are read an element at a time.
    static let streamedArrays = ["targets", "cases"]

    /// Like `readLocated(_:diagnostics:)` on the parsed text, with the same problems at the same
    /// paths; throws `JSONParseError` when the text is not JSON.
    public static func readLocated(json data: Data, diagnostics d: Diagnostics) throws -> Located? {
        try data.withUnsafeBytes { bytes in
            try scan(MemoryText(bytes: bytes), whole: { data }, diagnostics: d) { c, _ in c }
        }.map { Located(targets: $0.targets, cases: $0.cases) }
    }

    /// Like `readLocated(json:diagnostics:)`, with the same problems, but keeping of each case only
    /// what the reference rules read (`CaseReferences`) and where its text lies, to be read whole
    /// again when it is written (`Indexed.readCase`): an archive's import holds one case at a time.
    public static func readIndexed(json data: Data, diagnostics d: Diagnostics) throws -> Indexed? {
        try data.withUnsafeBytes { bytes in
            try indexed(MemoryText(bytes: bytes), source: .memory(data), whole: { data }, diagnostics: d)
        }
    }

    /// The same, of a file read a window at a time (`FileWindow`) and each case read from it again
    /// when it is written: the import holds neither the file's text nor its cases, whatever its
    /// size. Throws `BundleFile.Changed` when the file is cut short while it is read; a case whose
    /// text changed before it is read again is refused then (`Indexed.readCase`).
    public static func readIndexed(file: BundleFile, diagnostics d: Diagnostics) throws -> Indexed? {
        try readIndexed(file: file, diagnostics: d, window: FileWindow.defaultSize)
    }

    /// `window`: how many bytes are read at a time (small in tests, to read across windows).
    static func readIndexed(file: BundleFile, diagnostics d: Diagnostics, window size: Int) throws -> Indexed? {
        let window = FileWindow(file, size: size)
        do {
            let read = try indexed(window, source: .file(file), whole: {
                guard let all = file.read(0..<file.size) else { throw BundleFile.Changed() }
                return all
            }, diagnostics: d)
            if window.failed || !file.isUnchanged { throw BundleFile.Changed() }
            return read
        } catch {
            // The bytes missing read as zero: what they made the text say is not the file's fault.
            throw window.failed ? BundleFile.Changed() : error
        }
    }

    private static func indexed<B: JSONBytes>(_ bytes: B, source: Indexed.Source, whole: () throws -> Data,
                                              diagnostics d: Diagnostics) throws -> Indexed? {
        guard let found = try scan(bytes, whole: whole, diagnostics: d, keep: { c, element in
            (CaseReferences(c), element.map { Indexed.Entry.text($0.span, digest: $0.digest) } ?? .value(c))
        }) else { return nil }
        return Indexed(targets: found.targets.map(\.0), targetPaths: found.targets.map(\.1),
                       cases: found.cases.map(\.0.0), casePaths: found.cases.map(\.1),
                       source: source, entries: found.cases.map(\.0.1))
    }

    /// A bundle as an import reads it: its targets (few), and of each case read its references and
    /// path, and its text (or the case itself, when the bundle was not read from text a case at a
    /// time), read again when the case is written.
    public struct Indexed: Sendable {
        public var targets: [Target]
        public var targetPaths: [String]
        public var cases: [CaseReferences]
        public var casePaths: [String]
        enum Source: Sendable {
            case none
            case memory(Data)
            case file(BundleFile)

            func read(_ span: Range<Int>) -> Data? {
                switch self {
                case .none: nil
                case .memory(let data): data.count >= span.upperBound ? Data(data[(data.startIndex + span.lowerBound)..<(data.startIndex + span.upperBound)]) : nil
                case .file(let file): file.read(span)
                }
            }
        }
        enum Entry: Sendable {
            case value(Case)
            /// Where the case's text lies, and a digest of it (`JSONSpans.digest`).
            case text(Range<Int>, digest: Int)
        }
        let source: Source
        let entries: [Entry]

        init(targets: [Target], targetPaths: [String], cases: [CaseReferences], casePaths: [String], source: Source, entries: [Entry]) {
            self.targets = targets; self.targetPaths = targetPaths; self.cases = cases; self.casePaths = casePaths
            self.source = source; self.entries = entries
        }

        /// A bundle held whole (the demo, the API's single case), its parts at `$.targets[i]` and
        /// `$.cases[i]` unless given.
        public init(_ bundle: VigilBundle, targetPaths: [String]? = nil, casePaths: [String]? = nil) {
            self.init(targets: bundle.targets, targetPaths: targetPaths ?? bundle.targets.indices.map { "$.targets[\($0)]" },
                      cases: bundle.cases.map(CaseReferences.init), casePaths: casePaths ?? bundle.cases.indices.map { "$.cases[\($0)]" },
                      source: .none, entries: bundle.cases.map(Entry.value))
        }

        /// The `i`th case read, whole: read again from its text. Throws if its text is no longer
        /// what was read (a file changed meanwhile), or no longer reads without a problem, or to
        /// other references (it did when the bundle was read, and an import writes only a bundle
        /// without problems).
        public func readCase(_ i: Int) throws -> Case {
            switch entries[i] {
            case .value(let c): return c
            case .text(let span, let digest):
                let d = Diagnostics()
                guard let text = source.read(span), JSONSpans.digest(text) == digest, let value = try? JSONValue.parse(text),
                      let c = Case.read(value, path: casePaths[i], diagnostics: d), d.issues.isEmpty, CaseReferences(c) == cases[i] else {
                    throw ReadAgainError(path: casePaths[i])
                }
                return c
            }
        }
    }

    /// A case of a bundle being imported read differently the second time: its file changed while
    /// it was imported, or a fault of the program (or of the memory it runs in).
    public struct ReadAgainError: Error, CustomStringConvertible {
        public var path: String
        public var description: String {
            "\(path) read differently the second time it was read (was the bundle's file changed while it was imported?)"
        }
    }

    /// The bundle's targets and cases read from its text, each case as `keep` makes it of the case
    /// and where its text lies, with its digest (nil when it was read from the parsed text instead).
    private static func scan<B: JSONBytes, C>(_ bytes: B, whole: () throws -> Data, diagnostics d: Diagnostics,
                                             keep: (Case, (span: Range<Int>, digest: Int)?) -> C) throws -> (targets: [(Target, String)], cases: [(C, String)])? {
        // Text in UTF-16 or UTF-32 (zero bytes among the first four, as Foundation's parser tells
        // them apart) is parsed whole, as before; so is text that is not an object (or not JSON),
        // which says what it is instead.
        guard !(0..<min(4, bytes.count)).contains(where: { bytes[$0] == 0 }), let members = try JSONSpans.members(of: bytes) else {
            guard let located = readLocated(try JSONValue.parse(try whole()), diagnostics: d) else { return nil }
            return (Array(zip(located.bundle.targets, located.targetPaths)),
                    Array(zip(located.bundle.cases.map { keep($0, nil) }, located.casePaths)))
        }
        // The first of a key counts, as it does for Foundation's parser.
        var seen = Set<String>(), arrays: [String: Range<Int>] = [:]
        for (key, span) in members {
            guard let key, seen.insert(key).inserted else { continue }
            if streamedArrays.contains(key), bytes[span.lowerBound] == UInt8(ascii: "[") { arrays[key] = span }
        }
        // The rest of the object (its format, and anything else it holds) is parsed as before,
        // each array read an element at a time left empty there. Its values are first parsed one
        // by one, so that one that is not JSON is named with the line it begins on (the parser of
        // the whole says only that something is wrong).
        let streamed = Set(arrays.values.map(\.lowerBound))
        for (key, span) in members where !streamed.contains(span.lowerBound) {
            _ = try JSONSpans.parse(bytes.data(span), at: span.lowerBound, in: bytes, path: key.map { "$.\($0)" } ?? "$")
        }
        var rest = Data(), at = 0
        for span in arrays.values.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            rest.append(bytes.data(at..<span.lowerBound))
            rest.append(contentsOf: Array("[]".utf8))
            at = span.upperBound
        }
        rest.append(bytes.data(at..<bytes.count))
        guard var r = ObjectReader(try JSONValue.parse(rest), path: "$", diagnostics: d) else { return nil }
        defer { r.finish() }
        checkFormat(&r, diagnostics: d)
        func read<T>(_ key: String, _ each: (JSONValue, String, (span: Range<Int>, text: Data)?) -> T?) throws -> [(T, String)] {
            guard let span = arrays[key] else { return r.locatedArray(key) { each($0, $1, nil) } }
            _ = r.raw(key)
            let elements = try JSONSpans.elements(of: bytes, in: span)
            let tooMany = elements.count > ObjectReader.maxLocatedItems
            let read = try elements.enumerated().compactMap { i, element -> (T, String)? in
                let path = "$.\(key)[\(i)]"
                let text = bytes.data(element)
                let value = try JSONSpans.parse(text, at: element.lowerBound, in: bytes, path: path)
                // Too many are each still checked as JSON, as they were when parsed whole.
                return tooMany ? nil : each(value, path, (element, text)).map { ($0, path) }
            }
            if tooMany { d.add("$.\(key)", IssueText.tooManyItems(elements.count, max: ObjectReader.maxLocatedItems)) }
            return read
        }
        return (try read("targets") { v, p, _ in Target.read(v, path: p, diagnostics: d) },
                try read("cases") { v, p, element in
                    Case.read(v, path: p, diagnostics: d).map { keep($0, element.map { ($0.span, JSONSpans.digest($0.text)) }) }
                })
    }
}

/// A bundle's file, open for reading at given places (`pread`), for an import that reads it a
/// window at a time and each case again when it writes it. Nil when the path cannot be opened or
/// is not a regular file (a pipe is read whole instead).
public final class BundleFile: Sendable {
    let fd: Int32
    /// The file's size when it was opened: what is read.
    public let size: Int
    /// When it was last written, when it was opened.
    let opened: timespec

    /// The file was cut short while it was read.
    public struct Changed: Error, CustomStringConvertible {
        public init() {}
        public var description: String { "the bundle's file changed while it was read" }
    }

    public init?(path: String) {
        // Looked at before it is opened: opening a named pipe would take from it what its reader
        // (the command, reading it whole) is to read. Opened without waiting, in case it became
        // one since.
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            return nil
        }
        self.fd = fd
        size = Int(st.st_size)
        opened = st.st_mtim
    }

    deinit { close(fd) }

    /// The bytes at `range`; nil when fewer are there (the file was cut short) or it cannot be read.
    func read(_ range: Range<Int>) -> Data? {
        guard range.lowerBound >= 0 else { return nil }
        guard !range.isEmpty else { return Data() }
        var out = Data(count: range.count)
        let got = out.withUnsafeMutableBytes { read(into: $0, at: range.lowerBound) }
        return got == range.count ? out : nil
    }

    /// Reads into `buffer` from `offset`, until it is full or the file ends; how many bytes it
    /// read, or -1 when the file cannot be read.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) -> Int {
        var done = 0
        while done < buffer.count {
            let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                return -1
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// Whether the file is as it was when it was opened (the same size, and not written since):
    /// a file written over in place while it was split would give spans of two versions.
    public var isUnchanged: Bool {
        var st = stat()
        return fstat(fd, &st) == 0 && Int(st.st_size) == size && st.st_mtim.tv_sec == opened.tv_sec && st.st_mtim.tv_nsec == opened.tv_nsec
    }
}

/// Text the splitter reads (`JSONSpans`): a buffer in memory, or a file a window at a time.
protocol JSONBytes {
    var count: Int { get }
    subscript(_ i: Int) -> UInt8 { get }
    /// The bytes at `range`, copied.
    func data(_ range: Range<Int>) -> Data
    /// How many line feeds there are in `range`.
    func lineFeeds(in range: Range<Int>) -> Int
}

extension JSONBytes {
    /// The line `offset` is on.
    func line(at offset: Int) -> Int { lineFeeds(in: 0..<min(max(offset, 0), count)) + 1 }
}

/// Text in memory.
struct MemoryText: JSONBytes {
    let bytes: UnsafeRawBufferPointer
    var count: Int { bytes.count }
    subscript(_ i: Int) -> UInt8 { bytes[i] }
    func data(_ range: Range<Int>) -> Data { Data(bytes[range]) }
    func lineFeeds(in range: Range<Int>) -> Int { bytes[range].count { $0 == 0x0A } }
}

/// A file read a window at a time: the splitter reads forward, and back only to name a
/// problem's line. If the file is cut short, the bytes missing read as zero (which no JSON text
/// has outside a string) and `failed` says so.
final class FileWindow: JSONBytes {
    let file: BundleFile
    static let defaultSize = 1 << 20
    let size: Int
    /// The window: `filled` bytes of the file from `start` (read once into memory allocated once:
    /// the splitter asks for every byte of the file, twice).
    private let buffer: UnsafeMutableRawBufferPointer
    private var start = 0, filled = 0
    private(set) var failed = false

    init(_ file: BundleFile, size: Int) {
        self.file = file
        self.size = max(1, size)
        buffer = .allocate(byteCount: self.size, alignment: 1)
    }

    deinit { buffer.deallocate() }

    var count: Int { file.size }

    subscript(_ i: Int) -> UInt8 {
        let k = i &- start
        if k >= 0 && k < filled { return buffer[k] }
        precondition(i >= 0 && i < count, "byte \(i) of a file of \(count)")
        let wanted = min(size, count - i)
        let got = file.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[..<wanted]), at: i)
        if got < wanted {
            failed = true
            buffer[max(got, 0)..<wanted].initializeMemory(as: UInt8.self, repeating: 0)
        }
        start = i
        filled = wanted
        return buffer[0]
    }

    func data(_ range: Range<Int>) -> Data {
        if let read = file.read(range) { return read }
        failed = true
        return Data(count: range.count)
    }

    func lineFeeds(in range: Range<Int>) -> Int {
        var n = 0
        for from in stride(from: range.lowerBound, to: range.upperBound, by: size) {
            n += data(from..<min(from + size, range.upperBound)).count { $0 == 0x0A }
        }
        return n
    }
}

/// Where the members of a JSON object, and the elements of an array, lie in its text, found
/// without parsing them: strings are skipped (with their escapes) and brackets matched.
/// Offsets are from the start of the text. What Foundation's parser lets pass (a comma before
/// a closing bracket) passes here too, so that a bundle reads as it did when it was parsed whole.
enum JSONSpans {
    /// The members of the object the text is, in order: each key when it is ASCII (else nil;
    /// the keys looked for are), and where its value lies. Nil when the text does not begin with
    /// `{` (after white space). Throws when the object's own punctuation is wrong, or anything
    /// follows it.
    static func members<B: JSONBytes>(of bytes: B) throws -> [(String?, Range<Int>)]? {
        var s = Scanner(bytes: bytes, end: bytes.count)
        s.skipSpace()
        guard s.peek == UInt8(ascii: "{") else { return nil }
        s.i += 1
        var members: [(String?, Range<Int>)] = []
        s.skipSpace()
        if s.peek == UInt8(ascii: "}") {
            s.i += 1
        } else {
            while true {
                s.skipSpace()
                guard s.peek == UInt8(ascii: "\"") else { throw s.error("expected a key in quotes") }
                let keyStart = s.i
                try s.skipString()
                let key = asciiKey([UInt8](bytes.data((keyStart + 1)..<(s.i - 1))))
                s.skipSpace()
                guard s.peek == UInt8(ascii: ":") else { throw s.error("expected ':' after a key") }
                s.i += 1
                s.skipSpace()
                members.append((key, try s.skipValue(depth: maxDepth - 1)))
                s.skipSpace()
                if s.peek == UInt8(ascii: ",") {
                    s.i += 1
                    s.skipSpace()
                    // A comma before the end is let pass, as Foundation's parser lets it.
                    if s.peek == UInt8(ascii: "}") { s.i += 1; break }
                    continue
                }
                if s.peek == UInt8(ascii: "}") { s.i += 1; break }
                throw s.error("expected ',' or '}' after a value")
            }
        }
        s.skipSpace()
        guard s.i == bytes.count else { throw s.error("unexpected text after the bundle's object") }
        return members
    }

    /// A key's text (between its quotes) with its escapes read, when it is all ASCII; nil when
    /// it is not, or an escape is wrong (the parser of the rest says so).
    static func asciiKey(_ raw: [UInt8]) -> String? {
        var out = ""
        var i = raw.startIndex
        while i < raw.endIndex {
            let b = raw[i]
            i += 1
            guard b == UInt8(ascii: "\\") else {
                guard b >= 0x20, b < 0x80 else { return nil }
                out.unicodeScalars.append(UnicodeScalar(b))
                continue
            }
            guard i < raw.endIndex else { return nil }
            let e = raw[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.unicodeScalars.append(UnicodeScalar(e))
            case UInt8(ascii: "b"): out += "\u{08}"
            case UInt8(ascii: "f"): out += "\u{0C}"
            case UInt8(ascii: "n"): out += "\n"
            case UInt8(ascii: "r"): out += "\r"
            case UInt8(ascii: "t"): out += "\t"
            case UInt8(ascii: "u"):
                guard i + 4 <= raw.endIndex, let v = UInt32(String(decoding: raw[i..<(i + 4)], as: UTF8.self), radix: 16), v < 0x80 else { return nil }
                i += 4
                out.unicodeScalars.append(UnicodeScalar(UInt8(v)))
            default: return nil
            }
        }
        return out
    }

    /// The elements of the array at `span` (which begins with `[`).
    static func elements<B: JSONBytes>(of bytes: B, in span: Range<Int>) throws -> [Range<Int>] {
        // An element is nested in the bundle's object and its array.
        let depth = maxDepth - 2
        var s = Scanner(bytes: bytes, end: span.upperBound)
        s.i = span.lowerBound + 1
        var elements: [Range<Int>] = []
        s.skipSpace()
        if s.peek == UInt8(ascii: "]") { return [] }
        while true {
            s.skipSpace()
            elements.append(try s.skipValue(depth: depth))
            s.skipSpace()
            if s.peek == UInt8(ascii: ",") {
                s.i += 1
                s.skipSpace()
                if s.peek == UInt8(ascii: "]") { break }
                continue
            }
            if s.peek == UInt8(ascii: "]") { break }
            throw s.error("expected ',' or ']' after an element")
        }
        return elements
    }

    /// The JSON value of `text`, which lies at `offset` of `bytes`, parsed on its own; its
    /// problem, if any, names `path` and its line.
    static func parse<B: JSONBytes>(_ text: Data, at offset: Int, in bytes: B, path: String) throws -> JSONValue {
        do {
            return try JSONValue.parse(text)
        } catch let e as JSONParseError {
            let prefix = "not valid JSON: "
            let place = "\(prefix)in \(path), which begins on line \(bytes.line(at: offset))"
            guard e.reason.hasPrefix(prefix) else { throw JSONParseError(reason: place) }
            throw JSONParseError(reason: place + ": " + e.reason.dropFirst(prefix.count))
        }
    }

    /// A digest of an element's text, to tell that it is read again unchanged (within one process).
    static func digest(_ text: Data) -> Int {
        var h = Hasher()
        text.withUnsafeBytes { h.combine(bytes: $0) }
        return h.finalize()
    }

    /// The deepest nesting Foundation's parser takes (arrays and objects in one another).
    static let maxDepth = 512

    struct Scanner<B: JSONBytes> {
        let bytes: B
        /// Where the text scanned ends.
        let end: Int
        var i = 0

        init(bytes: B, end: Int) {
            self.bytes = bytes
            self.end = end
        }

        var peek: UInt8? { i < end ? bytes[i] : nil }

        func error(_ what: String) -> JSONParseError {
            JSONParseError(reason: "not valid JSON: \(what), on line \(line(at: i))")
        }

        func line(at offset: Int) -> Int { bytes.line(at: min(offset, end)) }

        mutating func skipSpace() {
            while let b = peek, b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { i += 1 }
        }

        /// From an opening quote to past its closing one.
        mutating func skipString() throws {
            let start = i
            i += 1
            while let b = peek {
                i += 1
                if b == UInt8(ascii: "\"") { return }
                if b == UInt8(ascii: "\\") { i += 1 }
            }
            throw JSONParseError(reason: "not valid JSON: a string that begins on line \(line(at: start)) is not closed")
        }

        /// Past one value, whose span it returns: a string, an object or array with everything in
        /// it (no deeper than `depth`), or a bare word or number of the characters they may have
        /// (checked when it is parsed).
        mutating func skipValue(depth: Int) throws -> Range<Int> {
            let start = i
            switch peek {
            case UInt8(ascii: "\""):
                try skipString()
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                var open: [UInt8] = []
                repeat {
                    guard let b = peek else {
                        throw JSONParseError(reason: "not valid JSON: an object or array that begins on line \(line(at: start)) is not closed")
                    }
                    switch b {
                    case UInt8(ascii: "\""): try skipString(); continue
                    case UInt8(ascii: "{"), UInt8(ascii: "["):
                        guard open.count < depth else { throw error("objects and arrays are nested too deeply") }
                        open.append(b == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]"))
                    case UInt8(ascii: "}"), UInt8(ascii: "]"):
                        guard open.popLast() == b else { throw error("'\(Character(UnicodeScalar(b)))' does not close what is open") }
                    default: break
                    }
                    i += 1
                } while !open.isEmpty
            default:
                // true, false, null, or a number: nothing else (a byte-order mark, another
                // encoding) that the parser of this value alone would take.
                while let b = peek, (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
                                    || b == UInt8(ascii: "-") || b == UInt8(ascii: "+") || b == UInt8(ascii: ".") || b == UInt8(ascii: "E") { i += 1 }
                guard i > start else { throw error("expected a value") }
            }
            return start..<i
        }
    }
}
