import MeshBase
import MeshEngine
import Netcheck
import Testing

@Suite struct RelayReasonTests {
    let stunA = UDPAddress(ipv4: 203, 0, 113, 100, port: 3478)
    let stunB = UDPAddress(ipv4: 203, 0, 113, 100, port: 3479)
    let stun6 = UDPAddress(addressBytes: [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [0x64], port: 3478)!
    let stun6b = UDPAddress(addressBytes: [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [0x64], port: 3479)!
    let peerPublic = UDPAddress(ipv4: 198, 51, 100, 12, port: 41641)
    let peerLAN = UDPAddress(ipv4: 10, 2, 0, 20, port: 41641)
    let peerV6 = UDPAddress(addressBytes: [0x20, 0x01, 0x0d, 0xb8, 0, 2] + [UInt8](repeating: 0, count: 9) + [0x20], port: 41641)!

    /// STUN answered from both ports; `hard`: each saw another public port.
    func report(hard: Bool) -> NetcheckReport {
        let mapped = UDPAddress(ipv4: 192, 0, 2, 1, port: 40000)
        let other = UDPAddress(ipv4: 192, 0, 2, 1, port: hard ? 40001 : 40000)
        return NetcheckReport(udp: true, mapped: [stunA: mapped, stunB: other], latency: [stunA: .milliseconds(3)],
                              mappingVariesByDestination: hard)
    }

    func explain(online: Bool? = true, _ netcheck: NetcheckReport?, peer: [UDPAddress], pings: UInt64 = 6,
                 pongs: UInt64 = 0) -> String {
        RelayReason.explain(.init(peerOnline: online, netcheck: netcheck, peerEndpoints: peer,
                                  pingsSent: pings, pongsReceived: pongs))
    }

    @Test func anOfflinePeerIsTheReasonBeforeAnythingElse() {
        #expect(explain(online: false, NetcheckReport(udp: false, mapped: [:], latency: [:]), peer: []) == RelayReason.peerOffline)
    }

    @Test func udpThatNeverReachedStunIsBlockedHere() {
        #expect(explain(NetcheckReport(udp: false, mapped: [:], latency: [:]), peer: [peerPublic, peerLAN])
                == RelayReason.udpBlockedHere)
    }

    @Test func aHardNATHereFacingAPublicPeerIsThisSide() {
        #expect(explain(report(hard: true), peer: [peerPublic, peerLAN]) == RelayReason.hardNATHere)
    }

    @Test func hardNATHereAndNoPublicEndpointThereIsBothSides() {
        #expect(explain(report(hard: true), peer: [peerLAN]) == RelayReason.hardNATBoth)
    }

    @Test func aPeerWithOnlyLANEndpointsHasAHardNATOrNoUDP() {
        #expect(explain(report(hard: false), peer: [peerLAN]) == RelayReason.peerUnreachable)
        #expect(explain(report(hard: false), peer: []) == RelayReason.peerUnreachable)
        // Before any probe finished the peer's side still tells.
        #expect(explain(nil, peer: [peerLAN]) == RelayReason.peerUnreachable)
    }

    @Test func aHardNATInOneFamilyOnlyDoesNotExplainAPeerReachableInTheOther() {
        var r = report(hard: true)
        r.mapped[stun6] = peerV6  // any IPv6 mapping: one answer, no verdict for IPv6
        #expect(explain(r, peer: [peerV6], pings: 4) == RelayReason.noAnswerYet)
        r.mapped[stun6b] = UDPAddress(addressBytes: [0x20, 0x01, 0x0d, 0xb8, 0, 2] + [UInt8](repeating: 0, count: 9) + [0x21],
                                      port: 41641)!
        #expect(RelayReason.hardNATFamilies(r) == [true, false])
        #expect(explain(r, peer: [peerV6]) == RelayReason.hardNATHere)
    }

    @Test func otherwiseDiscoSays() {
        #expect(explain(report(hard: false), peer: [peerPublic], pings: 0) == RelayReason.notTriedYet)
        #expect(explain(report(hard: false), peer: [peerPublic], pings: 9) == RelayReason.noAnswerYet)
        #expect(explain(report(hard: false), peer: [peerPublic], pings: 9, pongs: 3) == RelayReason.directLost)
        #expect(explain(nil, peer: [peerPublic], pings: 9) == RelayReason.noAnswerYet)
    }

    @Test func oddPublishedAddressesDoNotCountAsPublic() {
        let weird = [UDPAddress(ipv4: 127, 0, 0, 1, port: 41641), UDPAddress(ipv4: 0, 0, 0, 0, port: 41641),
                     UDPAddress(ipv4: 203, 0, 113, 9, port: 0), UDPAddress(ipv4: 169, 254, 1, 1, port: 41641)]
        #expect(explain(report(hard: false), peer: weird) == RelayReason.peerUnreachable)
    }
}
