import CheckedArithmetic
import XCTest

final class SaturatingIntegerTests: XCTestCase {
    func testAddAndSubtractPinAtBothEnds() {
        XCTAssertEqual(Int64.max.saturatingAdding(1), .max)
        XCTAssertEqual(Int64.min.saturatingAdding(-1), .min)
        XCTAssertEqual(Int64.min.saturatingSubtracting(1), .min)
        XCTAssertEqual(Int64.max.saturatingSubtracting(-1), .max)
        XCTAssertEqual(Int64(0).saturatingSubtracting(.min), .max)
        XCTAssertEqual(Int64(5).saturatingSubtracting(7), -2)
        XCTAssertEqual(UInt16.max.saturatingAdding(1), .max)
        XCTAssertEqual(UInt16(0).saturatingSubtracting(1), 0)
    }

    func testMultiplyPinsBySign() {
        XCTAssertEqual(Int64.max.saturatingMultiplied(by: 2), .max)
        XCTAssertEqual(Int64.min.saturatingMultiplied(by: -1), .max)
        XCTAssertEqual(Int64.max.saturatingMultiplied(by: -2), .min)
        XCTAssertEqual(Int64(1000).saturatingMultiplied(by: 3), 3000)
    }

    func testDistanceCoversTheWholeRange() {
        XCTAssertEqual(Int64.min.absoluteDifference(from: .max), UInt64.max)
        XCTAssertEqual(Int64.max.absoluteDifference(from: .min), UInt64.max)
        XCTAssertEqual(Int64(1_700_000_000_000).absoluteDifference(from: .min), UInt64(1_700_000_000_000) + UInt64(1) << 63)
        XCTAssertEqual(Int64(3).absoluteDifference(from: 10), 7)
    }
}
