import CheckedArithmetic
import XCTest

final class BoundedConversionTests: XCTestCase {
    func testExtremeDoublesAreRefusedNotTrapped() {
        for bad in [1e300, -1e300, .infinity, -.infinity, .nan, 9.3e18, 99999999999999999999.0] {
            XCTAssertNil(Int64(checkedRounding: bad), "\(bad)")
        }
        XCTAssertNil(UInt16(checkedRounding: 65536))
        XCTAssertNil(UInt16(checkedRounding: -1))
        XCTAssertEqual(UInt16(checkedRounding: 65535.9), 65535)
        XCTAssertEqual(Int64(checkedRounding: -2.5), -2)
        XCTAssertEqual(Int(checkedRounding: 25), 25)
    }

    func testIntegerNarrowing() {
        XCTAssertNil(Int32(checked: Int64.max))
        XCTAssertNil(UInt8(checked: -1))
        XCTAssertEqual(Int32(checked: 7 as Int64), 7)
    }

    func testSecondsInput() {
        XCTAssertEqual(SecondsInput.milliseconds(25, within: 1...3600), 25_000)
        XCTAssertEqual(SecondsInput.milliseconds(0.5, within: 0.1...3600), 500)
        XCTAssertNil(SecondsInput.milliseconds(1e300, within: 1...3600))
        XCTAssertNil(SecondsInput.milliseconds(.nan, within: 1...3600))
        XCTAssertNil(SecondsInput.milliseconds(0, within: 1...3600))
    }
}
