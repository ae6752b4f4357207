import Testing
@testable import VigilDocuments

@Suite("Fonts for documents")
struct FontCatalogTests {
    @Test func pangoFindsFontsForEveryScriptWePublishIn() {
        #expect(!FontCatalog.pangoVersion.isEmpty)
        let families = FontCatalog.families()
        #expect(families.contains { $0.hasPrefix("DejaVu") }, "Latin and Cyrillic (fonts-dejavu-core)")
        #expect(FontCatalog.has("Noto Sans Arabic") || FontCatalog.has("Noto Naskh Arabic"), "Arabic (fonts-noto-core)")
        #expect(FontCatalog.has("Noto Sans CJK") || FontCatalog.has("Noto Serif CJK"), "Chinese (fonts-noto-cjk)")
    }
}
