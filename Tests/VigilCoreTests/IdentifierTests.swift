import Foundation
import Testing
@testable import VigilCore

@Suite("Identifiers and codes")
struct IdentifierTests {
    @Test func partialDatesKeepTheirPrecision() {
        #expect(PartialDate("2019-11-12")?.precision == .day)
        #expect(PartialDate("2019-11")?.precision == .month)
        #expect(PartialDate("2016")?.precision == .year)
        #expect(PartialDate("2016")?.description == "2016")
        #expect(PartialDate("2020-02-29") != nil)
        for bad in ["2019-02-29", "2019-13", "19-11-12", "2019-1-1", "2019/11/12", "", "２０１９", "2019-11-12T00:00", "2019-00"] {
            #expect(PartialDate(bad) == nil, "\(bad) should be refused")
        }
        #expect(PartialDate("2019")!.latest == "2019-12-31")
        #expect(PartialDate("2019-02")!.latest == "2019-02-28")
        #expect(PartialDate("2019-11")! < PartialDate("2019-11-12")!)
    }

    @Test func urgentActionNumbers() {
        let n = UANumber("126/19")
        #expect(n?.serial == 126 && n?.year == 19)
        #expect(n?.label == "UA 126/19")
        #expect(n?.slug == "126-19")
        #expect(UANumber(slug: "126-19") == n)
        #expect(UANumber("5/07")?.description == "5/07")
        for bad in ["126/2019", "126-19", "/19", "0/19", "12345/19", "a/19", "126/1", " 126/19"] {
            #expect(UANumber(bad) == nil, "\(bad) should be refused")
        }
        #expect(UANumber("1/20")! > UANumber("999/19")!)
    }

    @Test func aiIndex() {
        #expect(AIIndex.isValid("EUR 46/1098/2019"))
        #expect(AIIndex.isValid("MDE 12/345/2020"))
        for bad in ["eur 46/1098/2019", "EUR 46/1098/19", "EUR46/1098/2019", "EUR 4/1098/2019", "EUR 46/10988/2019", "EUR 46/1098/2019 "] {
            #expect(!AIIndex.isValid(bad), "\(bad) should be refused")
        }
    }

    @Test func countryCodes() {
        #expect(CountryCode.all.count == 250)  // 249 assigned + XK
        #expect(CountryCode.problem("RU") == nil)
        #expect(CountryCode.problem("ru")?.contains("upper case") == true)
        #expect(CountryCode.problem("XX") != nil)
        #expect(CountryCode.problem("UK") != nil)
    }

    @Test func languageTags() {
        for good in ["en", "ru", "ar", "zh-Hans", "zh-Hant-TW", "crh", "pt-BR", "es-419", "sr-Latn", "de-CH-1996", "en-x-demo"] {
            #expect(LanguageTag.problem(good) == nil, "\(good) should be accepted")
        }
        #expect(LanguageTag.problem("EN") == "write the language tag as \"en\"")
        #expect(LanguageTag.problem("zh-hans") == "write the language tag as \"zh-Hans\"")
        for bad in ["english", "e", "xx", "en_GB", "en-", "zh-Hans-ZZ", "", "en--GB", "en-a"] {
            #expect(LanguageTag.problem(bad) != nil, "\(bad) should be refused")
        }
        #expect(LanguageTag.isRightToLeft("ar"))
        #expect(LanguageTag.isRightToLeft("fa-IR"))
        #expect(!LanguageTag.isRightToLeft("ru"))
        #expect(!LanguageTag.isRightToLeft("az-Latn"))
    }

    @Test func slugsAndAddresses() {
        #expect(Slug.problem("ua-126-19-0-en") == nil)
        #expect(Slug.problem("Bad Id") != nil)
        #expect(Slug.problem("-x") != nil)
        #expect(EmailAddress.problem("a@example.org") == nil)
        #expect(EmailAddress.problem("a@b") != nil)
        #expect(WebURL.problem("javascript:alert(1)") != nil)
        #expect(WebURL.problem("https://example.org/form") == nil)
    }
}

@Suite("JSON")
struct JSONValueTests {
    @Test func serialisesWithSortedKeysAndEscapes() throws {
        let v = try JSONValue.parse(Data(#"{"b":1,"a":[true,null,"x\"\u0001\u2028й"],"c":{"z":2.5}}"#.utf8))
        #expect(v.serialized(pretty: false) == #"{"a":[true,null,"x\"\u0001\u2028й"],"b":1,"c":{"z":2.5}}"#)
        #expect(try JSONValue.parse(v.data()) == v)
    }

    @Test func booleansAreNotNumbers() throws {
        #expect(try JSONValue.parse(Data("true".utf8)) == .bool(true))
        #expect(try JSONValue.parse(Data("1".utf8)) == .number(1))
    }

    @Test func invalidJSONSaysSo() {
        #expect(throws: JSONParseError.self) { try JSONValue.parse(Data("{".utf8)) }
    }
}
