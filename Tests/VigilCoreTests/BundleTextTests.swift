import Foundation
import Testing
@testable import VigilCore

/// A bundle's text read a case at a time (`VigilBundle.readLocated(json:diagnostics:)`) must read
/// exactly as the whole tree did: the same targets and cases at the same paths, the same problems,
/// and JSON refused where it was refused.
@Suite("Interchange format: read a case at a time")
struct BundleTextTests {
    struct Reading: Equatable {
        var bundle: VigilBundle?
        var targetPaths: [String] = []
        var casePaths: [String] = []
        var issues: [ValidationIssue]
    }

    /// Parsed whole, then read (as before); nil when the text is not JSON.
    func whole(_ text: Data) -> Reading? {
        guard let value = try? JSONValue.parse(text) else { return nil }
        let d = Diagnostics()
        let located = VigilBundle.readLocated(value, diagnostics: d)
        return Reading(bundle: located?.bundle, targetPaths: located?.targetPaths ?? [], casePaths: located?.casePaths ?? [], issues: d.issues)
    }

    /// Read a case at a time; nil when the text is refused as not JSON.
    func streamed(_ text: Data) -> Reading? {
        let d = Diagnostics()
        let located: VigilBundle.Located?
        do { located = try VigilBundle.readLocated(json: text, diagnostics: d) } catch { return nil }
        return Reading(bundle: located?.bundle, targetPaths: located?.targetPaths ?? [], casePaths: located?.casePaths ?? [], issues: d.issues)
    }

    /// Read for an import (`readIndexed`): nil when it agrees with `reading` (the same targets,
    /// paths and problems, each case's references, and each case read again from its text as it
    /// was read the first time, whenever the bundle read without a problem), else what differs.
    func indexedDisagrees(_ text: Data, with reading: Reading?) -> String? {
        let d = Diagnostics()
        let indexed: VigilBundle.Indexed?
        do { indexed = try VigilBundle.readIndexed(json: text, diagnostics: d) } catch { return reading == nil ? nil : "refused: \(error)" }
        guard let reading else { return "read, refused a case at a time" }
        guard let indexed else { return reading.bundle == nil && d.issues == reading.issues ? nil : "not read" }
        let cases = reading.bundle?.cases ?? []
        if indexed.targets != reading.bundle?.targets ?? [] || indexed.targetPaths != reading.targetPaths { return "targets" }
        if indexed.casePaths != reading.casePaths || d.issues != reading.issues { return "paths or problems" }
        if indexed.cases != cases.map(CaseReferences.init) { return "references" }
        for (i, c) in cases.enumerated() {
            switch Result(catching: { try indexed.readCase(i) }) {
            case .success(let again): if again != c { return "case \(i) read again differs" }
            case .failure(let e): if reading.issues.isEmpty { return "case \(i) not read again: \(e)" }
            }
        }
        return nil
    }

    /// Read from a file a few bytes at a time (`readIndexed(file:)`): nil when it reads as the
    /// text in memory does (the same targets, paths, problems and references, each case read
    /// again alike, or the same refusal), else what differs.
    func fileDisagrees(_ text: Data, window: Int = 7) -> String? {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-bundle-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: url) }
        guard (try? text.write(to: url)) != nil, let file = BundleFile(path: url.path) else { return "not written" }
        func read(_ f: (Diagnostics) throws -> VigilBundle.Indexed?) -> (VigilBundle.Indexed?, [ValidationIssue], String?) {
            let d = Diagnostics()
            do { return (try f(d), d.issues, nil) } catch { return (nil, d.issues, "\(error)") }
        }
        let memory = read { try VigilBundle.readIndexed(json: text, diagnostics: $0) }
        let fromFile = read { try VigilBundle.readIndexed(file: file, diagnostics: $0, window: window) }
        if memory.2 != fromFile.2 { return "refused: \(memory.2 ?? "no") / \(fromFile.2 ?? "no")" }
        if memory.1 != fromFile.1 { return "problems" }
        guard let m = memory.0, let f = fromFile.0 else { return (memory.0 == nil) == (fromFile.0 == nil) ? nil : "read / not read" }
        if m.targets != f.targets || m.targetPaths != f.targetPaths { return "targets" }
        if m.casePaths != f.casePaths || m.cases != f.cases { return "cases" }
        for i in m.cases.indices where (try? m.readCase(i)) != (try? f.readCase(i)) { return "case \(i) read again" }
        return nil
    }

    static func text(_ object: Any, pretty: Bool = false) -> Data {
        try! JSONSerialization.data(withJSONObject: object, options: pretty ? [.prettyPrinted, .sortedKeys] : [.sortedKeys])
    }

    static var demoText: Data {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Resources/Data/demo.json")
        return try! Data(contentsOf: url)
    }

    /// Valid bundles, bundles with problems of form, and JSON that is no bundle.
    static var readable: [Data] {
        var out = [demoText, text(sampleBundleJSON()), text(sampleBundleJSON(), pretty: true)]
        func changed(_ change: (inout [String: Any]) -> Void) -> Data {
            var b = sampleBundleJSON()
            change(&b)
            return text(b)
        }
        out.append(changed { $0["format"] = "vigil.bundle/2" })
        out.append(changed { $0["format"] = nil })
        out.append(changed { $0["extra"] = ["a": [1, 2]] })
        out.append(changed { $0["targets"] = ["id": "t1"] })
        out.append(changed { $0["cases"] = NSNull() })
        out.append(changed { $0["cases"] = "none" })
        out.append(changed { $0["targets"] = [] })
        out.append(changed { $0["cases"] = [[:], 3, "x", NSNull()] })
        out.append(changed {
            var c = ($0["cases"] as! [[String: Any]])[0]
            c["id"] = "Not A Slug"
            $0["cases"] = [c, c]
        })
        out += ["{}", " { } ", "[]", "\"bundle\"", "12", "null",
                "\n{ \"cases\" : [ ] ,\r\n\t\"format\":\"vigil.bundle/1\" ,\"targets\":[]}\n",
                "{\"format\":\"vigil.bundle/1\",\"cases\":[{\"id\":\"a\\\"]}\"}]}",
                "{\"for\\u006dat\":\"vigil.bundle/1\"}",
                // The first of a key counts, as it does for Foundation's parser, however spelled.
                "{\"cases\":[{}],\"cases\":[{\"id\":\"x\"}]}", "{\"cases\":\"none\",\"cases\":[{}]}",
                "{\"c\\u0061ses\":[{}],\"cases\":\"none\",\"\\u0074argets\":[[]]}", "{\"a\":1,\"a\":2,\"é\":[],\"\\u00e9\":{}}",
                // Foundation's parser lets a comma before a closing bracket pass.
                "{\"format\":\"vigil.bundle/1\",\"cases\":[{},],}"].map { Data($0.utf8) }
        // Text in UTF-16 or UTF-32 without a byte-order mark, which Foundation's parser reads.
        let compact = String(decoding: text(sampleBundleJSON()), as: UTF8.self)
        out.append(compact.data(using: .utf16LittleEndian)!)
        out.append(compact.data(using: .utf32LittleEndian)!)
        // Nested as deep as the parser takes.
        out.append(Data(("{\"format\":\"vigil.bundle/1\",\"cases\":[" + String(repeating: "[", count: 510) + String(repeating: "]", count: 510) + "]}").utf8))
        // More cases than a bundle may hold: refused as too many, none read.
        out.append(Data(("{\"format\":\"vigil.bundle/1\",\"cases\":[" + Array(repeating: "{}", count: ObjectReader.maxLocatedItems + 1).joined(separator: ",") + "]}").utf8))
        return out
    }

    @Test func aBundleReadsAsTheWholeTreeDid() throws {
        for t in Self.readable {
            let before = try #require(whole(t), "\(String(decoding: t.prefix(200), as: UTF8.self))")
            let after = streamed(t)
            #expect(after == before, "\(String(decoding: t.prefix(200), as: UTF8.self))")
            #expect(indexedDisagrees(t, with: after) == nil, "\(String(decoding: t.prefix(200), as: UTF8.self))")
            #expect(fileDisagrees(t) == nil, "\(String(decoding: t.prefix(200), as: UTF8.self))")
        }
        #expect(fileDisagrees(Self.demoText, window: 1 << 20) == nil)
        // And the demo bundle's cases are all there, at their paths.
        let demo = try #require(streamed(Self.demoText))
        #expect(demo.issues.isEmpty && demo.bundle?.cases.count ?? 0 > 3)
        #expect(demo.casePaths == demo.bundle?.cases.indices.map { "$.cases[\($0)]" })
    }

    /// Read from its file, a bundle's text is not held: each case is read from the file again when
    /// it is written, and refused if its text changed meanwhile, or the file was cut short.
    @Test func anImportReadsItsFileAgainAndNoticesAChange() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-bundle-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: url) }
        try Self.demoText.write(to: url)
        let file = try #require(BundleFile(path: url.path))
        let read = try #require(try VigilBundle.readIndexed(file: file, diagnostics: Diagnostics()))
        guard case .file = read.source else { Issue.record("not read from the file"); return }
        let first = try read.readCase(0)
        // The same length, one letter of the first case's title changed, and nothing else.
        let title = Data(first.title.utf8)
        var changed = Self.demoText
        let at = try #require(changed.range(of: title))
        changed[at.lowerBound] ^= 0x20
        // Written over in place (the file open is the one changed, not replaced by another).
        func overwrite(_ data: Data) throws {
            let h = try FileHandle(forWritingTo: url)
            try h.write(contentsOf: data)
            try h.truncate(atOffset: UInt64(data.count))
            try h.close()
        }
        try overwrite(changed)
        #expect(throws: VigilBundle.ReadAgainError.self) { try read.readCase(0) }
        #expect(try read.readCase(1) == (try VigilBundle.readIndexed(json: Self.demoText, diagnostics: Diagnostics())?.readCase(1)))
        // Cut short: the cases beyond its end are refused.
        try overwrite(Self.demoText.prefix(Self.demoText.count / 2))
        #expect(throws: VigilBundle.ReadAgainError.self) { try read.readCase(read.cases.count - 1) }
        // Changed after it was opened, before it is split: written over in place at the same
        // size, or cut short (to half, or to nothing): refused as changed, not read as two versions.
        for version in [changed, Self.demoText.prefix(Self.demoText.count / 2), Data()] {
            try overwrite(Self.demoText)
            let opened = try #require(BundleFile(path: url.path))
            try overwrite(version)
            #expect(throws: BundleFile.Changed.self) { try VigilBundle.readIndexed(file: opened, diagnostics: Diagnostics(), window: 1 << 10) }
        }
        // A path that is no regular file is not opened as one (the command reads it whole).
        #expect(BundleFile(path: FileManager.default.temporaryDirectory.path) == nil)
        #expect(BundleFile(path: url.path + ".none") == nil)
    }

    /// Read for an import, a bundle's cases are held as where their text lies, not as cases: one
    /// case at a time is held while an archive is written. Text in UTF-16 is parsed whole, and its
    /// cases are held.
    @Test func anImportHoldsTheCasesAsText() throws {
        let d = Diagnostics()
        let demo = try #require(try VigilBundle.readIndexed(json: Self.demoText, diagnostics: d))
        #expect(d.issues.isEmpty && demo.cases.count > 3)
        #expect(demo.entries.allSatisfy { if case .text = $0 { true } else { false } })
        let wide = String(decoding: Self.demoText, as: UTF8.self).data(using: .utf16LittleEndian)!
        let read = try #require(try VigilBundle.readIndexed(json: wide, diagnostics: Diagnostics()))
        #expect(read.entries.allSatisfy { if case .value = $0 { true } else { false } })
        #expect(try read.cases.indices.map(read.readCase) == demo.cases.indices.map(demo.readCase))
        // What the reference rules read of a case: every document's place and the targets it names.
        let c = try demo.readCase(0)
        let refs = demo.cases[0]
        #expect(refs.id == c.id && refs.people == c.people.map(\.id))
        #expect(refs.urgentActions.map(\.number) == c.urgentActions.map(\.number))
        #expect(refs.urgentActions.flatMap(\.documents).map(\.id) == c.urgentActions.flatMap(\.documents).map(\.id))
        #expect(!refs.namedTargets.isEmpty && refs.namedTargets == Set(c.urgentActions.flatMap(\.documents).flatMap {
            ($0.takeAction?.targets.map(\.target) ?? []) + ($0.takeAction?.copiesTo.compactMap(\.target) ?? [])
        }))
    }

    @Test func textThatIsNotJSONIsRefusedAndItsPlaceNamed() throws {
        let broken = [
            "", "   ", "{", "{\"format\"", "{\"format\":", "{\"format\":\"vigil.bundle/1\"",
            "{\"format\" \"vigil.bundle/1\"}", "{format:\"vigil.bundle/1\"}", "{\"format\":\"vigil.bundle/1\"} x", "{} {}",
            "{\"cases\":[}", "{\"cases\":[{]}", "{\"cases\":[{}]]}", "{\"cases\":[{} {}]}", "{\"cases\":[,]}",
            "{\"cases\":[{\"id\":\"a}]}", "{\"cases\":[{\"id\":tru}]}", "{\"cases\":[{\"id\":\"\\q\"}]}", "{\"cases\":[\"\u{01}\"]}",
            "{\"targets\":[[}]}", "{\"format\":01}",
        ]
        var texts = broken.map { Data($0.utf8) }
        // Nested deeper than the parser takes, inside a case.
        texts.append(Data(("{\"format\":\"vigil.bundle/1\",\"cases\":[" + String(repeating: "[", count: 511) + String(repeating: "]", count: 511) + "]}").utf8))
        // A byte-order mark, or another encoding, inside the array: the parser of one element
        // alone would take either.
        texts.append(Data("{\"cases\":[".utf8) + Data([0xEF, 0xBB, 0xBF]) + Data("true]}".utf8))
        texts.append(Data("{\"cases\":[".utf8) + "true".data(using: .utf16LittleEndian)! + Data("]}".utf8))
        for t in texts {
            #expect(whole(t) == nil, "\(String(decoding: t.prefix(80), as: UTF8.self))")
            #expect(streamed(t) == nil, "\(String(decoding: t.prefix(80), as: UTF8.self))")
            // Read from a file, refused with the same words.
            #expect(fileDisagrees(t) == nil, "\(String(decoding: t.prefix(80), as: UTF8.self))")
        }
        // More cases than a bundle may hold, one of them not JSON: refused as not JSON, as before.
        let many = Array(repeating: "{}", count: ObjectReader.maxLocatedItems) + ["{\"id\":tru}"]
        #expect(streamed(Data(("{\"cases\":[" + many.joined(separator: ",") + "]}").utf8)) == nil)
        // Not UTF-8 inside a case.
        #expect(streamed(Data("{\"cases\":[{\"id\":\"".utf8) + Data([0xFF]) + Data("\"}]}".utf8)) == nil)
        // A problem inside a case names the case and the line it begins on.
        let text = "{\"format\": \"vigil.bundle/1\",\n\"cases\": [\n{},\n{\"id\": nope}\n]}"
        let error = #expect(throws: JSONParseError.self) { try VigilBundle.readLocated(json: Data(text.utf8), diagnostics: Diagnostics()) }
        #expect(error?.reason.hasPrefix("not valid JSON: in $.cases[1], which begins on line 4") == true, "\(error?.reason ?? "")")
        // A problem after the arrays, in the rest of the object, is named with its member and
        // the line it begins on (the parser of the whole text says only that something is wrong).
        let after = "{\"cases\": [\n  {\"id\": \"a\",\n   \"people\": [\n\n   ]},\r\n  {}\n],\n\"targets\" : [ {\n} ],\n\"format\":\n  tru\n}"
        let afterError = #expect(throws: JSONParseError.self) { try VigilBundle.readLocated(json: Data(after.utf8), diagnostics: Diagnostics()) }
        #expect(afterError?.reason.hasPrefix("not valid JSON: in $.format, which begins on line 11") == true, "\(afterError?.reason ?? "")")
        #expect(fileDisagrees(Data(after.utf8), window: 3) == nil)
        // A string or array not closed is named where it begins.
        let open = "{\"format\": \"vigil.bundle/1\",\n\"cases\": [\n{\"id\": \"abc}\n]\n}\n\n\n"
        let unclosed = #expect(throws: JSONParseError.self) { try VigilBundle.readLocated(json: Data(open.utf8), diagnostics: Diagnostics()) }
        #expect(unclosed?.reason == "not valid JSON: a string that begins on line 3 is not closed", "\(unclosed?.reason ?? "")")
    }

    /// Every byte of two small bundles' text (nested, with escapes, one spaced out) deleted, or
    /// replaced by each of JSON's punctuation marks and a few others: the text read a case at a
    /// time reads as the whole tree did, or both refuse it.
    @Test func damagedTextIsReadAlikeOrRefusedAlike() {
        let marks: [UInt8] = Array("{}[],:\"\\ x0-\n".utf8)
        let compact = #"{"format":"vigil.bundle/1","targets":[{"id":"t1","address":["a\"b]",[]],"x":{}}],"cases":[{"id":"c1","people":[{"id":"p1","n":-1.5e3}]},{"id":"c2"},null]}"#
        let spaced = "\n{ \"cases\" : [ { \"id\" : \"c\\\\1\" , \"t\" : [ true , false ] } ,\r\n\t{ } ] , \"format\" : \"vigil.bundle/1\" , \"targets\" : [ ] }\n"
        var compared = 0, readable = 0
        for original in [compact, spaced] {
            let bytes = Array(original.utf8)
            for i in bytes.indices {
                var variants = [Array(bytes[..<i] + bytes[(i + 1)...])]
                for m in marks where m != bytes[i] {
                    var v = bytes
                    v[i] = m
                    variants.append(v)
                }
                for v in variants {
                    let t = Data(v)
                    let before = whole(t), after = streamed(t)
                    compared += 1
                    if before != nil { readable += 1 }
                    if before != after {
                        Issue.record("byte \(i) of \(bytes.count): \(String(decoding: v, as: UTF8.self)): whole \(before.map { "\($0.issues)" } ?? "refused"), streamed \(after.map { "\($0.issues)" } ?? "refused")")
                        return
                    }
                    if let differs = indexedDisagrees(t, with: after) ?? fileDisagrees(t, window: 1 + i % 5) {
                        Issue.record("byte \(i) of \(bytes.count): \(String(decoding: v, as: UTF8.self)): read for an import: \(differs)")
                        return
                    }
                }
            }
        }
        // Both kinds were met: texts still JSON (with problems of form) and texts that are not.
        #expect(compared > 3_000 && readable > 500 && compared - readable > 1_000, "\(compared), \(readable)")
    }
}
