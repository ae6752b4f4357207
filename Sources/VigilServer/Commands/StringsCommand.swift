import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Vapor
import VigilCore

/// `vigil strings export --format po|xliff LANG`, `vigil strings import FILE` and `vigil strings
/// check`: the catalogues of `Resources/Locales` in the files translators' tools read (Poedit,
/// Weblate, Crowdin), back again, and what each catalogue lacks.
struct StringsCommands: AsyncCommandGroup {
    var help: String { "UI strings for translators: export a language (PO or XLIFF), import their work, check every catalogue." }
    var commands: [String: any AnyAsyncCommand] {
        ["export": ExportStringsCommand(), "import": ImportStringsCommand(), "check": CheckStringsCommand()]
    }

    static func directory(_ context: CommandContext) -> String { context.application.directory.workingDirectory + "Resources/Locales" }
}

struct ExportStringsCommand: AsyncCommand {
    struct Signature: CommandSignature {
        @Argument(name: "language", help: "The language to export: fr, ar, pt-BR …")
        var language: String
        @Option(name: "format", help: "po (gettext, the default) or xliff (XLIFF 1.2).")
        var format: String?
        @Option(name: "output", short: "o", help: "Write to this file instead of standard output.")
        var output: String?
    }
    var help: String { "Writes a language's UI strings, with English beside each, as PO or XLIFF." }

    func run(using context: CommandContext, signature: Signature) async throws {
        let directory = StringsCommands.directory(context)
        let english = try CatalogueFiles.read(directory: directory, language: "en")
        let language = signature.language
        guard LanguageTag.problem(language) == nil, language != "en" else {
            throw CommandProblem(description: "Name the language to export (not English, the source), like: vigil strings export --format po fr")
        }
        let own = (try? CatalogueFiles.read(directory: directory, language: language)) ?? [:]
        let order = CatalogueFiles.englishOrder(directory: directory)
        let text: String
        switch signature.format ?? "po" {
        case "po": text = CatalogueFiles.po(language: language, english: english, own: own, order: order)
        case "xliff": text = CatalogueFiles.xliff(language: language, english: english, own: own, order: order)
        default: throw CommandProblem(description: "--format must be po or xliff.")
        }
        if let out = signature.output {
            try Data(text.utf8).write(to: URL(fileURLWithPath: out), options: .atomic)
        } else {
            FileHandle.standardOutput.write(Data(text.utf8))
        }
    }
}

struct ImportStringsCommand: AsyncCommand {
    struct Signature: CommandSignature {
        @Argument(name: "file", help: "A .po or .xliff file a translator returned.")
        var file: String
    }
    var help: String { "Puts a translator's PO or XLIFF file into its language's catalogue, or refuses it whole." }

    func run(using context: CommandContext, signature: Signature) async throws {
        let directory = StringsCommands.directory(context)
        let english = try CatalogueFiles.read(directory: directory, language: "en")
        guard let data = FileManager.default.contents(atPath: signature.file) else {
            throw CommandProblem(description: "Cannot read \(signature.file).")
        }
        let (language, imported) = try CatalogueFiles.parse(data, name: signature.file)
        guard language != "en" else { throw CommandProblem(description: "English is the source language: edit en.json itself.") }
        let existing = (try? CatalogueFiles.read(directory: directory, language: language)) ?? [:]
        let merged = try CatalogueFiles.merge(language: language, imported: imported, into: existing, english: english)
        let path = (directory as NSString).appendingPathComponent("\(language).json")
        try Data(CatalogueFiles.json(merged, order: CatalogueFiles.englishOrder(directory: directory)).utf8)
            .write(to: URL(fileURLWithPath: path), options: .atomic)
        context.console.print("Imported \(imported.count) strings into \(path).")
        let missing = Catalogue.problems(language: language, own: merged, english: english)
        if !missing.isEmpty {
            context.console.print("\(missing.count) still to do (vigil strings check lists them); English stands in for them meanwhile.")
        }
    }
}

struct CheckStringsCommand: AsyncCommand {
    struct Signature: CommandSignature {}
    var help: String { "Lists what each catalogue lacks: keys, placeholders, plural forms. Fails when anything does." }

    func run(using context: CommandContext, signature: Signature) async throws {
        let directory = StringsCommands.directory(context)
        let english = try CatalogueFiles.read(directory: directory, language: "en")
        var all: [String] = []
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for f in files.sorted() where f.hasSuffix(".json") && f != "en.json" {
            let language = String(f.dropLast(5))
            all += Catalogue.problems(language: language, own: try CatalogueFiles.read(directory: directory, language: language), english: english)
        }
        if all.isEmpty {
            context.console.print("Every catalogue is whole.")
        } else {
            for p in all { context.console.print(p) }
            throw CommandProblem(description: "\(all.count) problems.")
        }
    }
}

/// The catalogue files and their translation-tool forms.
enum CatalogueFiles {
    static func read(directory: String, language: String) throws -> [String: String] {
        let path = (directory as NSString).appendingPathComponent("\(language).json")
        guard let data = FileManager.default.contents(atPath: path) else { throw CommandProblem(description: "There is no \(path).") }
        guard let object = try JSONValue.parse(data).objectValue else { throw CommandProblem(description: "\(path) is not a JSON object.") }
        return object.compactMapValues(\.stringValue)
    }

    /// The English keys (in `order`, else sorted), counted messages as their base once.
    static func units(_ english: [String: String], order: [String]? = nil) -> [(key: String, plural: Bool)] {
        var seen: Set<String> = []
        return (order ?? english.keys.sorted()).filter { english[$0] != nil }.compactMap { key in
            if let (base, _) = PluralRules.split(key) { return seen.insert(base).inserted ? (base, true) : nil }
            return (key, false)
        }
    }

    /// The keys of `en.json` in the order the file gives them (translators' files follow it).
    static func englishOrder(directory: String) -> [String] {
        let path = (directory as NSString).appendingPathComponent("en.json")
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            line.firstMatch(of: #/^\s*"((?:[^"\\]|\\.)+)"\s*:/#).map { String($0.1) }
        }
    }

    /// A catalogue as a JSON object, its keys in `order` (English's), the plural forms of a
    /// counted message together in CLDR order; keys English lacks are refused before this.
    static func json(_ table: [String: String], order: [String]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        func quoted(_ s: String) -> String { String(decoding: (try? encoder.encode(s)) ?? Data("\"\"".utf8), as: UTF8.self) }
        var keys: [String] = [], placed: Set<String> = []
        for key in order {
            if let (base, _) = PluralRules.split(key) {
                guard placed.insert(base).inserted else { continue }
                keys += PluralRules.Category.allCases.map { "\(base)#\($0.rawValue)" }.filter { table[$0] != nil }
            } else if table[key] != nil {
                keys.append(key)
            }
        }
        keys += table.keys.filter { !Set(keys).contains($0) }.sorted()
        return "{\n" + keys.map { "  \(quoted($0)): \(quoted(table[$0]!))" }.joined(separator: ",\n") + "\n}\n"
    }

    // MARK: gettext PO

    static func poEscape(_ s: String) -> String {
        "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n").replacingOccurrences(of: "\t", with: "\\t") + "\""
    }

    static func po(language: String, english: [String: String], own: [String: String], order: [String]? = nil) -> String {
        let (pluralForms, categories) = PluralRules.gettext(language)
        var out = "msgid \"\"\nmsgstr \"\"\n"
        for h in ["Project-Id-Version: Vigil", "Language: \(language)", "MIME-Version: 1.0", "Content-Type: text/plain; charset=UTF-8",
                  "Content-Transfer-Encoding: 8bit", "Plural-Forms: \(pluralForms)"] {
            out += poEscape(h + "\n") + "\n"
        }
        for (key, plural) in units(english, order: order) {
            out += "\n#. {placeholders} stay as they are.\nmsgctxt \(poEscape(key))\n"
            if plural {
                out += "msgid \(poEscape(english[key + "#one"] ?? english[key + "#other"] ?? ""))\n"
                out += "msgid_plural \(poEscape(english[key + "#other"] ?? ""))\n"
                for (i, c) in categories.enumerated() { out += "msgstr[\(i)] \(poEscape(own["\(key)#\(c.rawValue)"] ?? ""))\n" }
            } else {
                out += "msgid \(poEscape(english[key] ?? ""))\nmsgstr \(poEscape(own[key] ?? ""))\n"
            }
        }
        return out
    }

    struct ParseProblem: Error, CustomStringConvertible { let description: String }

    /// The language (from the header) and the translated strings of a PO file; empty ones are
    /// left out (untranslated).
    static func parsePO(_ text: String) throws -> (language: String, strings: [String: String]) {
        var language: String?
        var result: [String: String] = [:]
        var context: String?, msgid: String?, forms: [Int: String] = [:], single: String?
        var current: ((String) -> Void)?
        func unquote(_ s: Substring, line: Int) throws -> String {
            let t = s.trimmingCharacters(in: .whitespaces)
            guard t.count >= 2, t.hasPrefix("\""), t.hasSuffix("\"") else { throw ParseProblem(description: "line \(line): expected a quoted string") }
            var out = "", escaped = false
            for c in t.dropFirst().dropLast() {
                if escaped {
                    switch c { case "n": out.append("\n"); case "t": out.append("\t"); default: out.append(c) }
                    escaped = false
                } else if c == "\\" { escaped = true } else { out.append(c) }
            }
            return out
        }
        func finish() throws {
            defer { context = nil; msgid = nil; forms = [:]; single = nil; current = nil }
            guard let id = msgid else { return }
            if context == nil && id.isEmpty {
                for line in (single ?? "").split(separator: "\n") where line.hasPrefix("Language:") {
                    language = line.dropFirst("Language:".count).trimmingCharacters(in: .whitespaces)
                }
                return
            }
            guard let key = context else { return }
            if forms.isEmpty {
                if let s = single, !s.isEmpty { result[key] = s }
            } else {
                guard let lang = language else { throw ParseProblem(description: "the header names no Language") }
                let categories = PluralRules.gettext(lang).categories
                for (i, s) in forms where !s.isEmpty {
                    guard i < categories.count else { throw ParseProblem(description: "\(key): msgstr[\(i)], but \(lang) has \(categories.count) forms") }
                    result["\(key)#\(categories[i].rawValue)"] = s
                }
            }
        }
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("\"") {
                let s = try unquote(line[...], line: n + 1)
                current?(s)
                continue
            }
            if line.hasPrefix("msgctxt ") {
                try finish()
                let v = try unquote(line.dropFirst(8), line: n + 1)
                context = v
                current = { context! += $0 }
            } else if line.hasPrefix("msgid_plural ") {
                current = { _ in }
            } else if line.hasPrefix("msgid ") {
                if msgid != nil { try finish() }
                msgid = try unquote(line.dropFirst(6), line: n + 1)
                current = { msgid! += $0 }
            } else if line.hasPrefix("msgstr[") {
                guard let close = line.firstIndex(of: "]"), let i = Int(line[line.index(line.startIndex, offsetBy: 7)..<close]) else {
                    throw ParseProblem(description: "line \(n + 1): a plural form without its number")
                }
                forms[i] = try unquote(line[line.index(after: close)...], line: n + 1)
                current = { forms[i]! += $0 }
            } else if line.hasPrefix("msgstr ") {
                single = try unquote(line.dropFirst(7), line: n + 1)
                current = { single! += $0 }
            } else {
                throw ParseProblem(description: "line \(n + 1): not a PO line")
            }
        }
        try finish()
        guard let language, LanguageTag.problem(language) == nil else { throw ParseProblem(description: "the header names no Language") }
        return (language, result)
    }

    // MARK: XLIFF 1.2

    static func xliff(language: String, english: [String: String], own: [String: String], order: [String]? = nil) -> String {
        func x(_ s: String) -> String { XMLText.escape(s) }
        var out = """
            <?xml version="1.0" encoding="UTF-8"?>
            <xliff version="1.2" xmlns="urn:oasis:names:tc:xliff:document:1.2">
            <file original="vigil" source-language="en" target-language="\(x(language))" datatype="plaintext">
            <body>

            """
        func unit(_ id: String, _ source: String, _ target: String?) -> String {
            "<trans-unit id=\"\(x(id))\" xml:space=\"preserve\"><source>\(x(source))</source>"
                + (target.map { "<target>\(x($0))</target>" } ?? "") + "</trans-unit>\n"
        }
        for (key, plural) in units(english, order: order) {
            if plural {
                // One unit per CLDR category of the language; its source is English's nearest form.
                out += "<group id=\"\(x(key))\" restype=\"x-gettext-plurals\">\n"
                for c in PluralRules.categories(language) {
                    let source = english["\(key)#\(c.rawValue)"] ?? english["\(key)#other"] ?? ""
                    out += unit("\(key)#\(c.rawValue)", source, own["\(key)#\(c.rawValue)"])
                }
                out += "</group>\n"
            } else {
                out += unit(key, english[key] ?? "", own[key])
            }
        }
        return out + "</body>\n</file>\n</xliff>\n"
    }

    final class XLIFFReader: NSObject, XMLParserDelegate {
        var language: String?
        var strings: [String: String] = [:]
        private var id: String?, text: String?, inTarget = false

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) {
            switch name {
            case "file": language = attributes["target-language"]
            case "trans-unit": id = attributes["id"]
            case "target": inTarget = true; text = ""
            default: break
            }
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) { if inTarget { text? += string } }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            if name == "target" {
                inTarget = false
                if let id, let text, !text.isEmpty { strings[id] = text }
            }
            if name == "trans-unit" { id = nil; text = nil }
        }
    }

    static func parseXLIFF(_ data: Data) throws -> (language: String, strings: [String: String]) {
        let parser = XMLParser(data: data)
        parser.shouldResolveExternalEntities = false
        let reader = XLIFFReader()
        parser.delegate = reader
        guard parser.parse() else { throw ParseProblem(description: "not well-formed XML: \(parser.parserError.map { "\($0)" } ?? "?")") }
        guard let language = reader.language, LanguageTag.problem(language) == nil else {
            throw ParseProblem(description: "the <file> names no target-language")
        }
        return (language, reader.strings)
    }

    /// A PO or XLIFF file, by its name, else by its first bytes.
    static func parse(_ data: Data, name: String) throws -> (language: String, strings: [String: String]) {
        let text = String(decoding: data, as: UTF8.self)
        if name.hasSuffix(".xliff") || name.hasSuffix(".xlf") || text.hasPrefix("<?xml") { return try parseXLIFF(data) }
        return try parsePO(text)
    }

    /// The existing catalogue with the imported strings in it. Refused, naming every problem, when
    /// an imported string is not an English key, has other placeholders than English, or gives a
    /// plural form the language does not have: nothing is written then.
    static func merge(language: String, imported: [String: String], into existing: [String: String],
                      english: [String: String]) throws -> [String: String] {
        let problems = Catalogue.problems(language: language, own: imported, english: english)
            .filter { !$0.hasSuffix(" is missing") && !$0.contains(" is missing (") }
        guard problems.isEmpty else {
            throw CommandProblem(description: "The file was refused; nothing was written:\n" + problems.map { "  " + $0 }.joined(separator: "\n"))
        }
        var merged = existing.merging(imported) { _, new in new }
        // A category whole numbers never reach (Russian `other`, for fractions) is not in a PO
        // file: it takes the form of the last one there, unless the catalogue has one.
        let gettext = PluralRules.gettext(language).categories
        for base in Set(imported.keys.compactMap { PluralRules.split($0)?.base }) {
            for c in PluralRules.categories(language) where merged["\(base)#\(c.rawValue)"] == nil {
                if let last = gettext.last, let v = merged["\(base)#\(last.rawValue)"] { merged["\(base)#\(c.rawValue)"] = v }
            }
        }
        return merged
    }
}
