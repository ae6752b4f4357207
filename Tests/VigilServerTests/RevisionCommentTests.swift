import Testing
@testable import VigilServer

/// The comments Vigil writes on revisions itself are stored in English and read in the newsroom's language.
@Suite("Revision comments")
struct RevisionCommentTests {
    @Test func vigilsOwnCommentsAreShownInThePageLanguageAndEditorsAsTyped() throws {
        let catalogue = try LanguageTests.catalogue()
        let fr = catalogue.strings(for: "fr"), ar = catalogue.strings(for: "ar")
        #expect(RevisionComment.shown(RevisionComment.asPublished, fr) == fr["revision_as_published"])
        #expect(RevisionComment.shown(RevisionComment.changedOutside, ar) == ar["revision_changed_outside"])
        #expect(RevisionComment.shown(RevisionComment.restored(12), fr) == "révision 12 restaurée")
        #expect(RevisionComment.shown(RevisionComment.restored(3), catalogue.english) == "restored revision 3")
        // An editor's own words, even ones that look like Vigil's, stay as typed.
        for typed in ["Fixed the date", "restored revision 3 and fixed a typo", "restored revision x", "restored revision 03", ""] {
            #expect(RevisionComment.shown(typed, fr) == typed)
        }
        #expect(RevisionComment.shown(nil, fr) == "")
    }
}
