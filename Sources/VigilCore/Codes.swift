import Foundation

/// ISO 3166-1 alpha-2 country codes.
public enum CountryCode {
    /// Every officially assigned ISO 3166-1 alpha-2 code, plus `XK` (Kosovo),
    /// a user-assigned code in wide use by the UN, the EU and NGOs.
    public static let all: Set<String> = Set("""
        AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ
        BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ
        CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ
        DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR
        GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY
        HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP
        KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY
        MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ
        NA NC NE NF NG NI NL NO NP NR NU NZ OM
        PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW
        SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ
        TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ
        VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW XK
        """.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))

    public static func problem(_ code: String) -> String? { issue(code)?.english }

    public static func issue(_ code: String) -> Message? {
        if all.contains(code) { return nil }
        if all.contains(code.uppercased()) { return Message("issue_country_upper_case", "must be upper case: \"{code}\"", texts: ["code": code.uppercased()]) }
        return Message("issue_country_code", "\"{code}\" is not an ISO 3166-1 alpha-2 country code", texts: ["code": code])
    }
}

/// BCP 47 language tags (RFC 5646), e.g. `en`, `ru`, `ar`, `zh-Hans`, `crh`, `pt-BR`.
public enum LanguageTag {
    /// ISO 639-1 two-letter codes; three-letter ISO 639-2/3 codes are accepted by form.
    static let twoLetter: Set<String> = Set("""
        aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy
        da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz
        ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo
        lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps
        pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn
        to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu
        """.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))

    /// Languages written right to left (by primary subtag, or by script).
    static let rtlLanguages: Set<String> = ["ar", "fa", "he", "ur", "ps", "sd", "ug", "yi", "dv", "ckb", "ku-Arab"]
    static let rtlScripts: Set<String> = ["Arab", "Hebr", "Thaa", "Syrc", "Nkoo", "Adlm"]

    /// The primary language subtag, lower-cased: `pt-BR` → `pt`.
    public static func primary(_ tag: String) -> String {
        String(tag.split(separator: "-").first ?? "").lowercased()
    }

    public static func isRightToLeft(_ tag: String) -> Bool {
        let parts = tag.split(separator: "-").map(String.init)
        guard let primary = parts.first?.lowercased() else { return false }
        if let script = parts.dropFirst().first(where: { $0.count == 4 }) {
            return rtlScripts.contains(script.capitalized)
        }
        return rtlLanguages.contains(primary)
    }

    /// The canonical casing of a well-formed tag (`zh-hant-tw` → `zh-Hant-TW`), or nil.
    public static func canonical(_ tag: String) -> String? {
        let parts = tag.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
        guard let first = parts.first, !first.isEmpty,
              tag.unicodeScalars.allSatisfy({ $0.isASCII && ($0 == "-" || CharacterSet.alphanumerics.contains($0)) })
        else { return nil }
        var out: [String] = []
        let primary = first.lowercased()
        guard primary.allSatisfy(\.isLetter), (2...3).contains(primary.count) else { return nil }
        if primary.count == 2 && !twoLetter.contains(primary) { return nil }
        out.append(primary)
        var i = 1
        // extlang (up to 3)
        var extlangs = 0
        while i < parts.count, parts[i].count == 3, parts[i].allSatisfy(\.isLetter), extlangs < 3, primary.count <= 3 {
            out.append(parts[i].lowercased()); i += 1; extlangs += 1
        }
        if i < parts.count, parts[i].count == 4, parts[i].allSatisfy(\.isLetter) {
            out.append(parts[i].prefix(1).uppercased() + parts[i].dropFirst().lowercased()); i += 1
        }
        if i < parts.count {
            let p = parts[i]
            if p.count == 2, p.allSatisfy(\.isLetter) {
                guard CountryCode.all.contains(p.uppercased()) || p.uppercased() == "EU" || p.uppercased() == "UN" else { return nil }
                out.append(p.uppercased()); i += 1
            } else if p.count == 3, p.allSatisfy(\.isNumber) {
                out.append(p); i += 1
            }
        }
        while i < parts.count {
            let p = parts[i]
            let isVariant = ((5...8).contains(p.count) && p.allSatisfy { $0.isLetter || $0.isNumber })
                || (p.count == 4 && p.first!.isNumber && p.allSatisfy { $0.isLetter || $0.isNumber })
            if isVariant { out.append(p.lowercased()); i += 1; continue }
            break
        }
        // extensions and private use
        while i < parts.count {
            let singleton = parts[i].lowercased()
            guard singleton.count == 1 else { return nil }
            let maxLen = singleton == "x" ? 8 : 8
            let minLen = singleton == "x" ? 1 : 2
            out.append(singleton); i += 1
            var count = 0
            while i < parts.count, parts[i].count != 1 || singleton == "x" {
                let p = parts[i]
                guard (minLen...maxLen).contains(p.count), p.allSatisfy({ $0.isLetter || $0.isNumber }) else { return nil }
                out.append(p.lowercased()); i += 1; count += 1
            }
            if count == 0 { return nil }
        }
        return out.joined(separator: "-")
    }

    public static func problem(_ tag: String) -> String? { issue(tag)?.english }

    public static func issue(_ tag: String) -> Message? {
        guard let canonical = canonical(tag) else {
            return Message("issue_language_tag", "\"{tag}\" is not a BCP 47 language tag (like \"en\", \"ru\", \"zh-Hans\" or \"crh\")", texts: ["tag": tag])
        }
        if canonical != tag { return Message("issue_language_tag_case", "write the language tag as \"{tag}\"", texts: ["tag": canonical]) }
        return nil
    }
}

/// A small, deliberately strict check of e-mail addresses (one `@`, a dotted domain, no spaces).
public enum EmailAddress {
    public static func problem(_ s: String) -> String? { issue(s)?.english }

    public static func issue(_ s: String) -> Message? {
        let parts = s.split(separator: "@", omittingEmptySubsequences: false)
        guard s.count <= 254, parts.count == 2, !parts[0].isEmpty, parts[0].count <= 64,
              parts[1].contains("."), !parts[1].hasPrefix("."), !parts[1].hasSuffix("."),
              !s.contains(where: { $0.isWhitespace || $0 == "<" || $0 == ">" || $0 == "," || $0 == ";" })
        else { return Message("issue_email", "\"{value}\" is not an e-mail address", texts: ["value": s]) }
        return nil
    }
}

/// http(s) URLs only: no `javascript:` or other schemes reach a page.
public enum WebURL {
    public static func problem(_ s: String) -> String? { issue(s)?.english }

    public static func issue(_ s: String) -> Message? {
        guard let url = URL(string: s), let scheme = url.scheme?.lowercased(),
              scheme == "https" || scheme == "http", url.host != nil, !s.contains(where: \.isWhitespace)
        else { return Message("issue_web_url", "\"{value}\" is not an http(s) URL", texts: ["value": s]) }
        return nil
    }
}
