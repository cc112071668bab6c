/**
 * Every normative statement of MQTT 3.1.1 and MQTT 5.0, keyed by (version, id): whom it binds and whether a test
 * client can hold a server to it over the network. Checks are tagged with these ids and the coverage report lists every
 * row, so statements that cannot be checked still appear, with the reason why.
 */
import { suggest } from '../util/suggest.js';

export type MqttVersion = '3.1.1' | '5.0';

export const MQTT_VERSIONS: readonly MqttVersion[] = ['3.1.1', '5.0'];

/** Who the statement obliges. A rule on packet contents binds whoever sends them; 'both' includes the server. */
export type Binds = 'server' | 'client' | 'both';

/**
 * - `wire`: binds the server, and a client can see over the network whether the server keeps it.
 * - `client-only`: binds clients alone (or the server's side of it has its own statement).
 * - `unobservable`: binds the server, but nothing a client can send or see tells whether it is kept.
 */
export type CheckKind = 'wire' | 'client-only' | 'unobservable';

export interface Statement {
  readonly id: string;
  readonly version: MqttVersion;
  /** The section the id belongs to: '3.1' for MQTT-3.1.2-4, '4.2' for MQTT-4.2-1, '6' for MQTT-6.0.0-1. */
  readonly chapter: string;
  /** The chapter's name in that version of the specification. */
  readonly title: string;
  /** What the statement requires, in our words, on one line. */
  readonly summary: string;
  readonly binds: Binds;
  readonly check: CheckKind;
  /** Why the statement is not checked on the wire; present exactly when `check` is not 'wire'. */
  readonly reason?: string;
  /**
   * For some 'wire' statements: the optional feature or non-default setting the server must have for the check to
   * apply. A server without it cannot break the statement, so the check does not apply rather than fails.
   */
  readonly precondition?: string;
}

export const CHAPTER_TITLES: Readonly<Record<MqttVersion, Readonly<Record<string, string>>>> = {
  '3.1.1': {
    '1.5': 'Data representations',
    '2.2': 'Fixed header',
    '2.3': 'Variable header',
    '3.1': 'CONNECT',
    '3.2': 'CONNACK',
    '3.3': 'PUBLISH',
    '3.6': 'PUBREL',
    '3.8': 'SUBSCRIBE',
    '3.9': 'SUBACK',
    '3.10': 'UNSUBSCRIBE',
    '3.12': 'PINGREQ',
    '3.14': 'DISCONNECT',
    '4.1': 'Storing state',
    '4.3': 'Quality of Service levels and protocol flows',
    '4.4': 'Message delivery retry',
    '4.5': 'Message receipt',
    '4.6': 'Message ordering',
    '4.7': 'Topic names and topic filters',
    '4.8': 'Handling errors',
    '6': 'Using WebSocket as a network transport',
    '7': 'Conformance',
    '7.1': 'Conformance targets',
  },
  '5.0': {
    '1.5': 'Data representation',
    '2.1': 'Structure of an MQTT Control Packet',
    '2.2': 'Variable header',
    '3.1': 'CONNECT',
    '3.2': 'CONNACK',
    '3.3': 'PUBLISH',
    '3.4': 'PUBACK',
    '3.5': 'PUBREC',
    '3.6': 'PUBREL',
    '3.7': 'PUBCOMP',
    '3.8': 'SUBSCRIBE',
    '3.9': 'SUBACK',
    '3.10': 'UNSUBSCRIBE',
    '3.11': 'UNSUBACK',
    '3.12': 'PINGREQ',
    '3.14': 'DISCONNECT',
    '3.15': 'AUTH',
    '4.1': 'Session state',
    '4.2': 'Network connections',
    '4.3': 'Quality of Service levels and protocol flows',
    '4.4': 'Message delivery retry',
    '4.5': 'Message receipt',
    '4.6': 'Message ordering',
    '4.7': 'Topic names and topic filters',
    '4.8': 'Subscriptions',
    '4.9': 'Flow control',
    '4.12': 'Enhanced authentication',
    '4.13': 'Handling errors',
    '6': 'Using WebSocket as a network transport',
  },
};

interface Row {
  readonly id: string;
  readonly binds: Binds;
  readonly check: CheckKind;
  readonly summary: string;
  readonly reason?: string;
  readonly precondition?: string;
}

interface Section {
  readonly chapter: string;
  readonly rows: readonly Row[];
}

function wire(id: string, binds: 'server' | 'both', summary: string, precondition?: string): Row {
  const row: Row = { id, binds, check: 'wire', summary };
  return precondition === undefined ? row : { ...row, precondition };
}

function clientOnly(id: string, summary: string, reason: string): Row {
  return { id, binds: 'client', check: 'client-only', summary, reason };
}

function unobservable(id: string, binds: 'server' | 'both', summary: string, reason: string): Row {
  return { id, binds, check: 'unobservable', summary, reason };
}

function section(chapter: string, rows: readonly Row[]): Section {
  return { chapter, rows };
}

// Preconditions shared by several statements.
const WEBSOCKET = 'the server accepts MQTT over WebSocket';
const ACCESS_CONTROL = 'the server denies some client the right to publish on some topic';
const EMPTY_ID_ALLOWED = 'the server accepts a zero-length client identifier';
const REFUSES_IDS = 'the server refuses some client identifiers';
const AUTHENTICATES = 'the server authenticates clients (for example it refuses anonymous ones)';
const ENHANCED_AUTH = 'the server supports an enhanced authentication method';
const MAX_QOS = 'the server declares a Maximum QoS below 2 in CONNACK';
const NO_RETAIN = 'the server declares Retain Available 0 in CONNACK';
const MAX_PACKET = 'the server declares a Maximum Packet Size in CONNACK';
const TOPIC_ALIASES = 'the server declares a Topic Alias Maximum above 0 in CONNACK';
const NO_TOPIC_ALIASES = 'the server declares no Topic Alias Maximum, or 0, in CONNACK';
const RECEIVE_MAX = 'the server declares a Receive Maximum small enough to exceed in a test';
const REFUSES_QOS2 = 'the server refuses some QoS 2 PUBLISH with a PUBREC code of 0x80 or more (e.g. access control)';

// Reasons shared by several statements.
const CLIENT_ORDERING = 'Obliges the client; the server ordering rules are MQTT-4.6.0-5 and MQTT-4.6.0-6';

/*
 * How statements are classed. A rule about packet contents ("the Will QoS MUST be 0 when ...") binds whoever sends the
 * packet; when the server can see the breach in what it receives, the specification makes it a malformed packet or
 * protocol violation the server must close on (3.1.1 §4.8, 5.0 §4.13), so the rule is 'both' and checked on the wire.
 * Rules addressed to the client alone are 'client-only' when the server cannot detect the breach, or when the server's
 * reaction has a statement of its own (named in the reason).
 */
const V311: readonly Section[] = [
  section('1.5', [
    wire(
      'MQTT-1.5.3-1',
      'both',
      'Strings carry well-formed UTF-8 with no surrogate code points; a peer receiving bad UTF-8 hangs up',
    ),
    wire(
      'MQTT-1.5.3-2',
      'both',
      'Strings never encode U+0000; a packet containing it makes the receiving side drop the connection',
    ),
    wire(
      'MQTT-1.5.3-3',
      'both',
      'The bytes EF BB BF inside a string mean U+FEFF and reach the application intact, never removed',
    ),
  ]),
  section('2.2', [
    wire(
      'MQTT-2.2.2-1',
      'both',
      'Fixed-header flag bits marked reserved hold exactly the values the flag table gives, in every packet',
    ),
    wire(
      'MQTT-2.2.2-2',
      'both',
      'A packet arriving with wrong fixed-header flags makes the receiver close the connection',
    ),
  ]),
  section('2.3', [
    wire(
      'MQTT-2.3.1-1',
      'both',
      'SUBSCRIBE, UNSUBSCRIBE and QoS 1/2 PUBLISH carry a packet identifier other than zero',
    ),
    clientOnly(
      'MQTT-2.3.1-2',
      'A client picks an identifier not already in flight for each new SUBSCRIBE, UNSUBSCRIBE or QoS>0 PUBLISH',
      'Obliges the client; a server cannot tell a reused identifier from a retransmission',
    ),
    clientOnly(
      'MQTT-2.3.1-3',
      'A client resending a packet keeps its identifier, which is free again only once the matching ack is handled',
      "Obliges the client's retransmission bookkeeping; nothing here for the server to do",
    ),
    wire(
      'MQTT-2.3.1-4',
      'server',
      'Server-sent QoS>0 PUBLISH get identifiers not in flight, and a redelivery keeps the original one',
    ),
    wire('MQTT-2.3.1-5', 'both', 'A QoS 0 PUBLISH has no packet identifier field'),
    wire('MQTT-2.3.1-6', 'both', 'PUBACK, PUBREC and PUBREL echo the identifier of the PUBLISH they answer'),
    wire(
      'MQTT-2.3.1-7',
      'server',
      'SUBACK and UNSUBACK echo the identifier of the SUBSCRIBE or UNSUBSCRIBE they answer',
    ),
  ]),
  section('3.1', [
    wire(
      'MQTT-3.1.0-1',
      'both',
      'A connection opens with CONNECT; the server drops one whose first packet is of another type',
    ),
    wire(
      'MQTT-3.1.0-2',
      'server',
      'Receiving CONNECT again on an open connection is a protocol violation; the server disconnects',
    ),
    wire(
      'MQTT-3.1.2-1',
      'server',
      'With an unknown protocol name the server hangs up or speaks another protocol, never proceeding as 3.1.1',
    ),
    wire(
      'MQTT-3.1.2-2',
      'server',
      'An unsupported protocol level gets CONNACK return code 1 (unacceptable protocol version), then disconnection',
    ),
    wire(
      'MQTT-3.1.2-3',
      'server',
      'The server checks the reserved CONNECT flag is 0 and disconnects the client otherwise',
    ),
    wire(
      'MQTT-3.1.2-4',
      'both',
      'CleanSession 0 resumes the session stored under the client id (or starts one) and keeps it after disconnect',
    ),
    wire(
      'MQTT-3.1.2-5',
      'server',
      'While a CleanSession 0 client is away, the server queues matching QoS 1 and 2 messages in its session',
    ),
    wire(
      'MQTT-3.1.2-6',
      'both',
      'CleanSession 1 throws away any earlier session; the new one ends with the connection and is never reused',
    ),
    wire('MQTT-3.1.2-7', 'server', 'Retained messages are not session state and survive the end of any session'),
    wire(
      'MQTT-3.1.2-8',
      'server',
      'An accepted will is kept with the connection and published when it closes without a DISCONNECT',
    ),
    wire(
      'MQTT-3.1.2-9',
      'both',
      'Will Flag 1 requires Will Topic and Will Message in the payload; the server rejects a CONNECT lacking them',
    ),
    wire('MQTT-3.1.2-10', 'server', 'Once the will has been published, or DISCONNECT arrived, the server forgets it'),
    wire(
      'MQTT-3.1.2-11',
      'both',
      'Will Flag 0 demands zero Will QoS and Will Retain and no will fields; the server rejects other CONNECTs',
    ),
    wire('MQTT-3.1.2-12', 'server', 'Without the Will Flag, no will is published however the connection ends'),
    wire(
      'MQTT-3.1.2-13',
      'both',
      'Will QoS is 0 when the Will Flag is clear; the server refuses a CONNECT that says otherwise',
    ),
    wire('MQTT-3.1.2-14', 'both', 'Will QoS 3 is invalid; the server refuses a CONNECT carrying it'),
    wire(
      'MQTT-3.1.2-15',
      'both',
      'Will Retain is 0 when the Will Flag is clear; the server refuses a CONNECT that says otherwise',
    ),
    wire('MQTT-3.1.2-16', 'server', 'A will sent with Will Retain 0 is published as an ordinary, non-retained message'),
    wire('MQTT-3.1.2-17', 'server', 'A will sent with Will Retain 1 is published as a retained message'),
    wire(
      'MQTT-3.1.2-18',
      'both',
      'With the User Name Flag clear the payload has no user name; the server rejects surplus trailing fields',
    ),
    wire(
      'MQTT-3.1.2-19',
      'both',
      'With the User Name Flag set the payload includes a user name; the server rejects a CONNECT without one',
    ),
    wire(
      'MQTT-3.1.2-20',
      'both',
      'With the Password Flag clear the payload has no password; the server rejects surplus trailing fields',
    ),
    wire(
      'MQTT-3.1.2-21',
      'both',
      'With the Password Flag set the payload includes a password; the server rejects a CONNECT without one',
    ),
    wire(
      'MQTT-3.1.2-22',
      'both',
      'A password flag without the user name flag is invalid in 3.1.1; the server rejects such a CONNECT',
    ),
    clientOnly(
      'MQTT-3.1.2-23',
      'The client keeps traffic flowing within Keep Alive, sending PINGREQ when it has nothing else to send',
      'Obliges the client; the server side of keep alive is MQTT-3.1.2-24',
    ),
    wire(
      'MQTT-3.1.2-24',
      'server',
      'A client silent for 1.5 times its non-zero Keep Alive has its connection dropped by the server',
    ),
    wire(
      'MQTT-3.1.3-1',
      'both',
      'Payload fields are ordered: client id, will topic and message, then user name and password',
    ),
    wire('MQTT-3.1.3-2', 'both', 'The client identifier is the key both sides use to find the session state they keep'),
    wire(
      'MQTT-3.1.3-3',
      'both',
      'The client identifier is always present as the first payload field; the server rejects a CONNECT without it',
    ),
    wire('MQTT-3.1.3-4', 'both', 'The client identifier is a valid UTF-8 string; the server rejects one that is not'),
    wire('MQTT-3.1.3-5', 'server', 'Client identifiers of 1 to 23 ASCII letters and digits are always accepted'),
    wire(
      'MQTT-3.1.3-6',
      'server',
      'A server accepting an empty client id gives that client a unique id of its own and treats it as sent',
      EMPTY_ID_ALLOWED,
    ),
    clientOnly(
      'MQTT-3.1.3-7',
      'A client sending an empty client identifier also sets CleanSession to 1',
      'Obliges the client; the server reaction is MQTT-3.1.3-8',
    ),
    wire(
      'MQTT-3.1.3-8',
      'server',
      'An empty client identifier with CleanSession 0 gets CONNACK code 2 (identifier rejected), then close',
    ),
    wire(
      'MQTT-3.1.3-9',
      'server',
      'Whenever the server refuses a client identifier it answers CONNACK code 2 and closes the connection',
    ),
    wire(
      'MQTT-3.1.3-10',
      'both',
      'The will topic is a valid UTF-8 string; the server rejects a CONNECT whose will topic is not',
    ),
    wire(
      'MQTT-3.1.3-11',
      'both',
      'The user name is a valid UTF-8 string; the server rejects a CONNECT whose user name is not',
    ),
    wire(
      'MQTT-3.1.4-1',
      'server',
      'A CONNECT that breaks the rules of section 3.1 gets no CONNACK; the server just closes the connection',
    ),
    wire(
      'MQTT-3.1.4-2',
      'server',
      'A new connection with a client id already in use makes the server disconnect the older connection',
    ),
    wire(
      'MQTT-3.1.4-3',
      'server',
      'After a valid CONNECT the server applies the CleanSession rules of section 3.1.2.4',
    ),
    wire('MQTT-3.1.4-4', 'server', 'A valid CONNECT is answered with a CONNACK whose return code is 0'),
    wire('MQTT-3.1.4-5', 'server', 'After refusing a CONNECT the server ignores everything the client sent behind it'),
  ]),
  section('3.2', [
    wire('MQTT-3.2.0-1', 'server', 'CONNACK is the first packet the server sends on a connection'),
    wire(
      'MQTT-3.2.2-1',
      'server',
      'Accepting a CleanSession 1 connection, the server answers Session Present 0 with return code 0',
    ),
    wire(
      'MQTT-3.2.2-2',
      'server',
      'Accepting a CleanSession 0 connection with a stored session, the server answers Session Present 1',
    ),
    wire(
      'MQTT-3.2.2-3',
      'server',
      'Accepting a CleanSession 0 connection with no stored session, the server answers Session Present 0, code 0',
    ),
    wire('MQTT-3.2.2-4', 'server', 'A CONNACK refusing the connection always has Session Present 0'),
    wire('MQTT-3.2.2-5', 'server', 'After a CONNACK with a non-zero return code the server closes the connection'),
    unobservable(
      'MQTT-3.2.2-6',
      'server',
      'When no CONNACK return code fits the failure, the server closes without sending CONNACK',
      "Which failures fit no return code is the server's own judgement; no test can construct one",
    ),
  ]),
  section('3.3', [
    wire('MQTT-3.3.1-1', 'both', 'A PUBLISH sent again as a redelivery has DUP 1'),
    wire('MQTT-3.3.1-2', 'both', 'Every QoS 0 PUBLISH has DUP 0'),
    wire(
      'MQTT-3.3.1-3',
      'server',
      'DUP on a forwarded PUBLISH reflects only whether the server is retransmitting it, not the incoming DUP',
    ),
    wire(
      'MQTT-3.3.1-4',
      'both',
      'QoS bits 11 are invalid; a PUBLISH carrying them makes the receiver close the connection',
    ),
    wire(
      'MQTT-3.3.1-5',
      'server',
      'A client PUBLISH with RETAIN 1 is stored with its QoS for delivery to later matching subscribers',
    ),
    wire('MQTT-3.3.1-6', 'server', 'A new subscription receives the latest retained message of every topic it matches'),
    wire('MQTT-3.3.1-7', 'server', 'A retained QoS 0 PUBLISH replaces whatever was retained on its topic'),
    wire('MQTT-3.3.1-8', 'server', 'Messages sent because a subscription was just made carry RETAIN 1'),
    wire(
      'MQTT-3.3.1-9',
      'server',
      'Messages forwarded to existing subscriptions carry RETAIN 0, whatever the publisher set',
    ),
    wire(
      'MQTT-3.3.1-10',
      'server',
      "A retained PUBLISH with an empty payload is forwarded as usual and clears the topic's retained message",
    ),
    wire('MQTT-3.3.1-11', 'server', 'An empty retained payload is never itself kept as a retained message'),
    wire(
      'MQTT-3.3.1-12',
      'server',
      'A PUBLISH with RETAIN 0 neither becomes retained nor removes or replaces the retained message',
    ),
    wire(
      'MQTT-3.3.2-1',
      'both',
      'The topic name leads the PUBLISH variable header as valid UTF-8; the server closes on one that is not',
    ),
    wire(
      'MQTT-3.3.2-2',
      'both',
      'A PUBLISH topic name has no + or # characters; the server closes the connection on one that does',
    ),
    wire(
      'MQTT-3.3.2-3',
      'server',
      "Each PUBLISH the server forwards has a topic name matched by the subscriber's filter",
    ),
    wire('MQTT-3.3.4-1', 'both', 'The receiver of a PUBLISH answers as its QoS requires: nothing, PUBACK, or PUBREC'),
    wire(
      'MQTT-3.3.5-1',
      'server',
      'With several matching subscriptions, delivery uses the highest of their granted QoS levels',
    ),
    wire(
      'MQTT-3.3.5-2',
      'server',
      'A PUBLISH the client may not make is acknowledged as usual or answered by closing the connection',
      ACCESS_CONTROL,
    ),
  ]),
  section('3.6', [
    wire(
      'MQTT-3.6.1-1',
      'both',
      'PUBREL fixed-header flags are 0010; the server closes the connection on any other value',
    ),
  ]),
  section('3.8', [
    wire(
      'MQTT-3.8.1-1',
      'both',
      'SUBSCRIBE fixed-header flags are 0010; the server closes the connection on any other value',
    ),
    wire(
      'MQTT-3.8.3-1',
      'both',
      'Topic filters in SUBSCRIBE are valid UTF-8 strings; the server closes on one that is not',
    ),
    wire('MQTT-3.8.3-2', 'server', 'A server without wildcard support refuses subscriptions whose filter uses + or #'),
    wire(
      'MQTT-3.8.3-3',
      'both',
      'A SUBSCRIBE names at least one filter; one with an empty payload makes the server close the connection',
    ),
    wire(
      'MQTT-3.8.3-4',
      'server',
      'Requested QoS 3 or non-zero reserved bits in SUBSCRIBE make the server close the connection',
    ),
    wire('MQTT-3.8.4-1', 'server', 'The server answers every SUBSCRIBE with a SUBACK'),
    wire('MQTT-3.8.4-2', 'server', 'A SUBACK carries the packet identifier of the SUBSCRIBE it answers'),
    wire(
      'MQTT-3.8.4-3',
      'server',
      'Subscribing again to an identical filter replaces the subscription, resends retained messages, loses none',
    ),
    wire(
      'MQTT-3.8.4-4',
      'server',
      'A SUBSCRIBE with several filters acts like one SUBSCRIBE per filter, answered by a single SUBACK',
    ),
    wire(
      'MQTT-3.8.4-5',
      'server',
      'SUBACK has one return code per requested filter: the granted maximum QoS or a failure',
    ),
    wire(
      'MQTT-3.8.4-6',
      'server',
      'A message reaches a subscriber at the lower of its published QoS and the QoS granted to the subscription',
    ),
  ]),
  section('3.9', [
    wire('MQTT-3.9.3-1', 'server', 'SUBACK return codes are in the same order as the filters of the SUBSCRIBE'),
    wire('MQTT-3.9.3-2', 'server', 'SUBACK uses only return codes 0x00, 0x01, 0x02 and 0x80'),
  ]),
  section('3.10', [
    wire(
      'MQTT-3.10.1-1',
      'both',
      'UNSUBSCRIBE fixed-header flags are 0010; the server closes the connection on any other value',
    ),
    wire(
      'MQTT-3.10.3-1',
      'both',
      'Topic filters in UNSUBSCRIBE are valid UTF-8 strings; the server closes on one that is not',
    ),
    wire(
      'MQTT-3.10.3-2',
      'both',
      'An UNSUBSCRIBE names at least one filter; the server closes the connection on an empty one',
    ),
    wire(
      'MQTT-3.10.4-1',
      'server',
      'UNSUBSCRIBE removes only a subscription whose filter is exactly equal, with no wildcard matching',
    ),
    wire('MQTT-3.10.4-2', 'server', 'Once a subscription is removed, no new messages are queued for it'),
    wire(
      'MQTT-3.10.4-3',
      'server',
      'QoS 1 and 2 deliveries already under way when a subscription is removed are still completed',
    ),
    wire('MQTT-3.10.4-4', 'server', 'Each UNSUBSCRIBE gets an UNSUBACK carrying its packet identifier'),
    wire('MQTT-3.10.4-5', 'server', 'UNSUBACK is sent even when no subscription was removed'),
    wire(
      'MQTT-3.10.4-6',
      'server',
      'An UNSUBSCRIBE listing several filters is handled as one per filter but answered by one UNSUBACK',
    ),
  ]),
  section('3.12', [wire('MQTT-3.12.4-1', 'server', 'The server answers each PINGREQ with a PINGRESP')]),
  section('3.14', [
    wire(
      'MQTT-3.14.1-1',
      'server',
      "A DISCONNECT with non-zero reserved flags is an error: the server drops the client and sends its will",
    ),
    clientOnly(
      'MQTT-3.14.4-1',
      'A client closes the network connection after it sends DISCONNECT',
      'Obliges the client; the server closes its side after DISCONNECT anyway',
    ),
    clientOnly(
      'MQTT-3.14.4-2',
      'A client sends nothing more on a connection after its DISCONNECT',
      'Obliges the client; the server stops reading once DISCONNECT arrives',
    ),
    wire(
      'MQTT-3.14.4-3',
      'server',
      "When DISCONNECT arrives the server drops the connection's will without publishing it",
    ),
  ]),
  section('4.1', [
    wire(
      'MQTT-4.1.0-1',
      'both',
      'The server keeps session state (subscriptions, queued QoS>0 messages) for as long as the session lasts',
    ),
    wire('MQTT-4.1.0-2', 'server', 'A session lives at least as long as its network connection'),
  ]),
  section('4.3', [
    wire('MQTT-4.3.1-1', 'both', 'A QoS 0 message goes out as a PUBLISH with QoS 0 and DUP 0'),
    wire(
      'MQTT-4.3.2-1',
      'both',
      'A QoS 1 sender uses a free packet id, sends QoS 1 with DUP 0, and holds the message until PUBACK',
    ),
    wire(
      'MQTT-4.3.2-2',
      'both',
      'A QoS 1 receiver answers PUBACK with the same id; a later PUBLISH reusing that id is a new message',
    ),
    wire(
      'MQTT-4.3.3-1',
      'both',
      'A QoS 2 sender uses a free id, sends DUP 0, answers PUBREC with PUBREL, never resends PUBLISH after PUBREL',
    ),
    wire(
      'MQTT-4.3.3-2',
      'both',
      'A QoS 2 receiver answers PUBREC, repeats it for copies without delivering them again, PUBCOMPs each PUBREL',
    ),
  ]),
  section('4.4', [
    wire(
      'MQTT-4.4.0-1',
      'both',
      'On a CleanSession 0 reconnect, unacknowledged QoS>0 PUBLISH and PUBREL are resent with their original ids',
    ),
  ]),
  section('4.5', [
    wire(
      'MQTT-4.5.0-1',
      'server',
      'A message the server accepts is added to the session of every client with a matching subscription',
    ),
    clientOnly(
      'MQTT-4.5.0-2',
      'A client acknowledges every PUBLISH as its QoS requires, even one it decides not to process',
      "Obliges the client's acknowledgement of messages it receives",
    ),
  ]),
  section('4.6', [
    clientOnly('MQTT-4.6.0-1', 'A client resends QoS 1 and 2 PUBLISH packets in their original order', CLIENT_ORDERING),
    clientOnly(
      'MQTT-4.6.0-2',
      'A client sends its PUBACKs in the order the QoS 1 PUBLISH packets arrived',
      CLIENT_ORDERING,
    ),
    clientOnly(
      'MQTT-4.6.0-3',
      'A client sends its PUBRECs in the order the QoS 2 PUBLISH packets arrived',
      CLIENT_ORDERING,
    ),
    clientOnly('MQTT-4.6.0-4', 'A client sends its PUBRELs in the order the PUBRECs arrived', CLIENT_ORDERING),
    wire('MQTT-4.6.0-5', 'server', 'Unless configured otherwise, the server treats every topic as ordered'),
    wire(
      'MQTT-4.6.0-6',
      'server',
      "For an ordered topic the server keeps the client ordering rules and forwards each publisher's messages in order",
    ),
  ]),
  section('4.7', [
    wire('MQTT-4.7.1-1', 'both', 'Wildcards belong in topic filters only; a topic name containing one is rejected'),
    wire(
      'MQTT-4.7.1-2',
      'both',
      '# stands alone or after a /, and ends the filter; the server refuses a filter that misplaces it',
    ),
    wire(
      'MQTT-4.7.1-3',
      'both',
      '+ fills a whole filter level, at any position; the server refuses a filter that mixes it into a level',
    ),
    wire('MQTT-4.7.2-1', 'server', 'Filters beginning with # or + never match topic names beginning with $'),
    wire('MQTT-4.7.3-1', 'both', 'Topic names and filters are never empty; the server refuses an empty one'),
    wire('MQTT-4.7.3-2', 'both', 'Topic names and filters never contain U+0000; the server refuses one that does'),
    unobservable(
      'MQTT-4.7.3-3',
      'both',
      'Topic names and filters fit in 65,535 bytes of UTF-8',
      'The two-byte length prefix cannot express a longer string, so there is no breach to send or see',
    ),
    wire(
      'MQTT-4.7.3-4',
      'server',
      'Matching compares topics as sent, without normalising or substituting any characters',
    ),
  ]),
  section('4.8', [
    wire('MQTT-4.8.0-1', 'both', 'A protocol violation makes the receiving side close the connection it arrived on'),
    unobservable(
      'MQTT-4.8.0-2',
      'both',
      'A transient error while handling an incoming packet makes the receiver close that connection',
      'A transient error inside the server (e.g. running out of memory) cannot be provoked by a client',
    ),
  ]),
  section('6', [
    wire(
      'MQTT-6.0.0-1',
      'both',
      'Over WebSocket, MQTT travels in binary frames; any other data frame makes the receiver close',
      WEBSOCKET,
    ),
    wire(
      'MQTT-6.0.0-2',
      'both',
      'Over WebSocket, packets may be split across or packed into frames; the receiver reassembles them',
      WEBSOCKET,
    ),
    clientOnly(
      'MQTT-6.0.0-3',
      'A WebSocket client offers "mqtt" among its subprotocols',
      "Obliges the client's WebSocket handshake",
    ),
    wire('MQTT-6.0.0-4', 'server', 'The WebSocket subprotocol the server selects is "mqtt"', WEBSOCKET),
  ]),
  section('7', [
    unobservable(
      'MQTT-7.0.0-1',
      'server',
      'A server that also connects out to other servers acts as a conformant client on those links',
      "Concerns the server's outbound (bridge) connections, which its clients do not see",
    ),
    unobservable(
      'MQTT-7.0.0-2',
      'both',
      'Interoperating never requires extensions from outside the specification',
      'A blanket rule with no behaviour of its own; every other check already uses plain MQTT only',
    ),
  ]),
  section('7.1', [
    wire(
      'MQTT-7.1.1-1',
      'server',
      'The server serves MQTT over at least one ordered, lossless byte-stream transport such as TCP',
    ),
    clientOnly(
      'MQTT-7.1.2-1',
      'A client supports at least one ordered, lossless byte-stream transport',
      'Obliges the client',
    ),
  ]),
];

const V5: readonly Section[] = [
  section('1.5', [
    wire(
      'MQTT-1.5.4-1',
      'both',
      'Strings hold well-formed UTF-8 without surrogates; a server receiving bad UTF-8 closes as malformed',
    ),
    wire(
      'MQTT-1.5.4-2',
      'both',
      'Strings never encode U+0000; a server receiving one treats the packet as malformed and closes',
    ),
    wire('MQTT-1.5.4-3', 'both', 'The bytes EF BB BF in a string mean U+FEFF and are passed on intact, never removed'),
    wire(
      'MQTT-1.5.5-1',
      'both',
      'Variable Byte Integers use the fewest bytes that hold the value; longer encodings are malformed',
    ),
    wire(
      'MQTT-1.5.7-1',
      'both',
      'Both halves of a UTF-8 string pair (e.g. a User Property) obey the UTF-8 string rules',
    ),
  ]),
  section('2.1', [
    wire(
      'MQTT-2.1.3-1',
      'both',
      'Fixed-header flag bits marked reserved hold exactly the listed values, in every packet sent',
    ),
  ]),
  section('2.2', [
    wire('MQTT-2.2.1-2', 'both', 'A QoS 0 PUBLISH has no packet identifier field'),
    wire(
      'MQTT-2.2.1-3',
      'both',
      'Client SUBSCRIBE, UNSUBSCRIBE and QoS>0 PUBLISH use a free non-zero id; the server rejects identifier 0',
    ),
    wire(
      'MQTT-2.2.1-4',
      'server',
      'Each new QoS>0 PUBLISH from the server gets a non-zero identifier not already in flight',
    ),
    wire(
      'MQTT-2.2.1-5',
      'both',
      'PUBACK, PUBREC, PUBREL and PUBCOMP echo the identifier of the PUBLISH they belong to',
    ),
    wire(
      'MQTT-2.2.1-6',
      'server',
      'SUBACK and UNSUBACK echo the identifier of the SUBSCRIBE or UNSUBSCRIBE they answer',
    ),
    wire(
      'MQTT-2.2.2-1',
      'both',
      'A packet with a property section but no properties carries Property Length 0 rather than leaving it out',
    ),
  ]),
  section('3.1', [
    wire(
      'MQTT-3.1.0-1',
      'both',
      'A connection opens with CONNECT; the server closes one whose first packet is anything else',
    ),
    wire(
      'MQTT-3.1.0-2',
      'server',
      'A second CONNECT on the same connection is a Protocol Error; the server closes the connection',
    ),
    wire(
      'MQTT-3.1.2-1',
      'both',
      'The protocol name is "MQTT"; for any other the server closes, after an optional CONNACK 0x84',
    ),
    wire(
      'MQTT-3.1.2-2',
      'server',
      'A protocol version the server will not serve ends the connection, optionally after CONNACK 0x84',
    ),
    wire(
      'MQTT-3.1.2-3',
      'server',
      'The server checks the reserved CONNECT flag is 0 and treats a CONNECT otherwise as malformed',
    ),
    wire('MQTT-3.1.2-4', 'both', 'Clean Start 1 discards any existing session and begins a fresh one'),
    wire('MQTT-3.1.2-5', 'server', 'Clean Start 0 with an existing session for the client id resumes that session'),
    wire('MQTT-3.1.2-6', 'server', 'Clean Start 0 without an existing session for the client id creates a new one'),
    wire('MQTT-3.1.2-7', 'server', 'Will Flag 1 makes the server keep the will message with the session'),
    wire(
      'MQTT-3.1.2-8',
      'server',
      'The will goes out once the link drops and the will delay or session ends, unless DISCONNECT 0x00 or a reconnect',
    ),
    wire(
      'MQTT-3.1.2-9',
      'both',
      'Will Flag 1 needs will properties, topic and payload present; the server rejects a CONNECT lacking them',
    ),
    wire(
      'MQTT-3.1.2-10',
      'server',
      'The server forgets the will once it is published or a DISCONNECT with reason 0x00 arrives',
    ),
    wire(
      'MQTT-3.1.2-11',
      'both',
      'Will QoS is 0 when the Will Flag is clear; the server treats a CONNECT saying otherwise as malformed',
    ),
    wire('MQTT-3.1.2-12', 'both', 'With the Will Flag set, Will QoS is 0, 1 or 2; the server treats 3 as malformed'),
    wire(
      'MQTT-3.1.2-13',
      'both',
      'Will Retain is 0 when the Will Flag is clear; the server treats a CONNECT saying otherwise as malformed',
    ),
    wire('MQTT-3.1.2-14', 'server', 'A will sent with Will Retain 0 is published as a non-retained message'),
    wire('MQTT-3.1.2-15', 'server', 'A will sent with Will Retain 1 is published as a retained message'),
    wire(
      'MQTT-3.1.2-16',
      'both',
      'User Name Flag clear means no user name in the payload; the server rejects surplus trailing fields',
    ),
    wire(
      'MQTT-3.1.2-17',
      'both',
      'User Name Flag set means a user name follows; the server rejects a CONNECT that lacks it',
    ),
    wire(
      'MQTT-3.1.2-18',
      'both',
      'Password Flag clear means no password in the payload; the server rejects surplus trailing fields',
    ),
    wire(
      'MQTT-3.1.2-19',
      'both',
      'Password Flag set means a password follows; the server rejects a CONNECT that lacks it',
    ),
    clientOnly(
      'MQTT-3.1.2-20',
      'With a non-zero Keep Alive and nothing else to send, the client sends PINGREQ',
      'Obliges the client; the server side of keep alive is MQTT-3.1.2-22',
    ),
    clientOnly(
      'MQTT-3.1.2-21',
      'A client told a Server Keep Alive in CONNACK uses it in place of its own Keep Alive',
      'Obliges the client; the server enforces its own value under MQTT-3.1.2-22',
    ),
    wire(
      'MQTT-3.1.2-22',
      'server',
      'A client silent for 1.5 times the non-zero Keep Alive has its connection closed by the server',
    ),
    wire(
      'MQTT-3.1.2-23',
      'both',
      'With a Session Expiry Interval above 0 the server keeps the session after the connection closes',
    ),
    wire(
      'MQTT-3.1.2-24',
      'server',
      'The server never sends a packet larger than the Maximum Packet Size the client declared',
    ),
    wire(
      'MQTT-3.1.2-25',
      'server',
      'A message too large for the client is dropped unsent, as though its delivery had completed',
    ),
    wire(
      'MQTT-3.1.2-26',
      'server',
      "Topic Alias values the server sends never exceed the client's Topic Alias Maximum",
    ),
    wire('MQTT-3.1.2-27', 'server', 'A client declaring no (or zero) Topic Alias Maximum never receives a Topic Alias'),
    wire('MQTT-3.1.2-28', 'server', 'Request Response Information 0 means CONNACK carries no Response Information'),
    wire(
      'MQTT-3.1.2-29',
      'server',
      'Request Problem Information 0 keeps Reason String and User Property off all but PUBLISH, CONNACK, DISCONNECT',
    ),
    wire(
      'MQTT-3.1.2-30',
      'both',
      'A client using enhanced auth sends only AUTH or DISCONNECT before CONNACK; else a Protocol Error',
      ENHANCED_AUTH,
    ),
    wire(
      'MQTT-3.1.3-1',
      'both',
      'Payload fields are ordered: client id, will properties, topic and payload, then user name and password',
    ),
    wire('MQTT-3.1.3-2', 'both', 'The client identifier is the key both sides use for the session state they keep'),
    wire(
      'MQTT-3.1.3-3',
      'both',
      'The client identifier is always present as the first payload field; the server rejects a CONNECT without it',
    ),
    wire(
      'MQTT-3.1.3-4',
      'both',
      'The client identifier is a valid UTF-8 string; the server treats an invalid one as malformed',
    ),
    wire('MQTT-3.1.3-5', 'server', 'Client identifiers of 1 to 23 ASCII letters and digits are always accepted'),
    wire(
      'MQTT-3.1.3-6',
      'server',
      'A server accepting an empty client id gives that client a unique id of its own',
      EMPTY_ID_ALLOWED,
    ),
    wire(
      'MQTT-3.1.3-7',
      'server',
      'An assigned id is used as if the client had sent it, and CONNACK returns it as Assigned Client Identifier',
      EMPTY_ID_ALLOWED,
    ),
    wire(
      'MQTT-3.1.3-8',
      'server',
      'A refused client identifier ends the connection, optionally after CONNACK 0x85',
      REFUSES_IDS,
    ),
    wire(
      'MQTT-3.1.3-9',
      'server',
      'If the client is back on its session before the will delay passes, the will is not sent',
    ),
    wire('MQTT-3.1.3-10', 'server', 'User Properties of a will are published in the order the client gave them'),
    wire(
      'MQTT-3.1.3-11',
      'both',
      'The will topic is a valid UTF-8 string; the server treats an invalid one as malformed',
    ),
    wire(
      'MQTT-3.1.3-12',
      'both',
      'The user name is a valid UTF-8 string; the server treats an invalid one as malformed',
    ),
    wire(
      'MQTT-3.1.4-1',
      'server',
      'A CONNECT not shaped as section 3.1 describes makes the server close the connection',
    ),
    wire(
      'MQTT-3.1.4-2',
      'server',
      "A CONNECT failing the server's own checks (e.g. authentication) ends with the connection closed",
      AUTHENTICATES,
    ),
    wire(
      'MQTT-3.1.4-3',
      'server',
      'A second connection with a client id in use makes the server close the first, after DISCONNECT 0x8E',
    ),
    wire('MQTT-3.1.4-4', 'server', 'After a valid CONNECT the server handles Clean Start as section 3.1.2.4 describes'),
    wire('MQTT-3.1.4-5', 'server', 'A valid CONNECT is acknowledged by CONNACK with reason code 0x00'),
    wire(
      'MQTT-3.1.4-6',
      'server',
      'After refusing a CONNECT the server processes nothing the client sent after it, except AUTH',
    ),
  ]),
  section('3.2', [
    wire('MQTT-3.2.0-1', 'server', 'Apart from AUTH, the server sends nothing before a CONNACK with reason code 0x00'),
    wire('MQTT-3.2.0-2', 'server', 'The server sends at most one CONNACK per connection'),
    wire('MQTT-3.2.2-1', 'server', 'Bits 7 to 1 of the CONNACK acknowledge flags are zero'),
    wire(
      'MQTT-3.2.2-2',
      'server',
      'Accepting a Clean Start 1 connection, the server sends Session Present 0 with reason code 0x00',
    ),
    wire(
      'MQTT-3.2.2-3',
      'server',
      'Accepting Clean Start 0, Session Present tells whether the server had a session for the client id',
    ),
    clientOnly(
      'MQTT-3.2.2-4',
      'A client without session state closes the connection on receiving Session Present 1',
      "Obliges the client's reaction to CONNACK",
    ),
    clientOnly(
      'MQTT-3.2.2-5',
      'A client with session state that gets Session Present 0 and stays connected drops that state',
      "Obliges the client's reaction to CONNACK",
    ),
    wire('MQTT-3.2.2-6', 'server', 'A CONNACK with a non-zero reason code has Session Present 0'),
    wire(
      'MQTT-3.2.2-7',
      'server',
      'After a CONNACK with a reason code of 0x80 or more the server closes the connection',
    ),
    wire('MQTT-3.2.2-8', 'server', 'CONNACK reason codes come only from the CONNACK reason code table'),
    wire(
      'MQTT-3.2.2-9',
      'server',
      'A server lacking QoS 1 or 2 says so with Maximum QoS in CONNACK; without that, QoS 2 must work',
    ),
    wire(
      'MQTT-3.2.2-10',
      'server',
      'Even a server capped below QoS 2 accepts SUBSCRIBE requesting QoS 0, 1 or 2',
      MAX_QOS,
    ),
    wire(
      'MQTT-3.2.2-11',
      'both',
      "Clients publish no higher than the server's Maximum QoS; the server answers a breach with DISCONNECT 0x9B",
      MAX_QOS,
    ),
    wire(
      'MQTT-3.2.2-12',
      'server',
      'A CONNECT whose will QoS the server cannot serve is refused (CONNACK 0x9B advised) and closed',
      MAX_QOS,
    ),
    wire(
      'MQTT-3.2.2-13',
      'server',
      'Without retain support, a CONNECT with Will Retain 1 is refused (CONNACK 0x9A advised) and closed',
      NO_RETAIN,
    ),
    wire(
      'MQTT-3.2.2-14',
      'both',
      'After Retain Available 0 clients send no retained PUBLISH; the server answers one with DISCONNECT 0x9A',
      NO_RETAIN,
    ),
    wire(
      'MQTT-3.2.2-15',
      'both',
      "Clients respect the server's Maximum Packet Size; the server treats a larger packet as an error (0x95)",
      MAX_PACKET,
    ),
    wire(
      'MQTT-3.2.2-16',
      'server',
      'An empty client id gets CONNACK with an Assigned Client Identifier no other current session uses',
      EMPTY_ID_ALLOWED,
    ),
    wire(
      'MQTT-3.2.2-17',
      'both',
      "Client Topic Alias values stay within the server's Topic Alias Maximum; the server rejects larger ones",
      TOPIC_ALIASES,
    ),
    wire(
      'MQTT-3.2.2-18',
      'both',
      'If the server allows no topic aliases, clients send none; the server treats one as a Protocol Error',
      NO_TOPIC_ALIASES,
    ),
    wire(
      'MQTT-3.2.2-19',
      'server',
      "CONNACK omits its Reason String if including it would exceed the client's Maximum Packet Size",
    ),
    wire(
      'MQTT-3.2.2-20',
      'server',
      "CONNACK omits User Properties if including them would exceed the client's Maximum Packet Size",
    ),
    clientOnly(
      'MQTT-3.2.2-21',
      'A client given Server Keep Alive in CONNACK uses that value instead of its own',
      'Obliges the client; the server enforces its value under MQTT-3.1.2-22',
    ),
    wire(
      'MQTT-3.2.2-22',
      'server',
      'Without a Server Keep Alive in CONNACK, the server enforces the Keep Alive the client asked for',
    ),
  ]),
  section('3.3', [
    wire('MQTT-3.3.1-1', 'both', 'A PUBLISH sent again as a redelivery has DUP 1'),
    wire('MQTT-3.3.1-2', 'both', 'Every QoS 0 PUBLISH has DUP 0'),
    wire('MQTT-3.3.1-3', 'server', 'DUP on a forwarded PUBLISH reflects only whether the server is retransmitting it'),
    wire('MQTT-3.3.1-4', 'both', 'A PUBLISH never has both QoS bits set; the server treats one that does as malformed'),
    wire(
      'MQTT-3.3.1-5',
      'server',
      "A client PUBLISH with RETAIN 1 becomes the topic's retained message, replacing any earlier one",
    ),
    wire(
      'MQTT-3.3.1-6',
      'server',
      "A retained PUBLISH with an empty payload is delivered normally and clears the topic's retained message",
    ),
    wire('MQTT-3.3.1-7', 'server', 'An empty retained payload is never itself kept as a retained message'),
    wire(
      'MQTT-3.3.1-8',
      'server',
      'A PUBLISH with RETAIN 0 neither becomes retained nor removes or replaces the retained message',
    ),
    wire(
      'MQTT-3.3.1-9',
      'server',
      'Retain Handling 0: retained messages matching the filter are sent whenever the subscription is made',
    ),
    wire(
      'MQTT-3.3.1-10',
      'server',
      'Retain Handling 1: retained messages are sent only when the subscription is new, not when replaced',
    ),
    wire('MQTT-3.3.1-11', 'server', 'Retain Handling 2: no retained messages are sent for the subscription'),
    wire(
      'MQTT-3.3.1-12',
      'server',
      'Retain As Published 0: forwarded messages carry RETAIN 0 whatever the publisher set',
    ),
    wire('MQTT-3.3.1-13', 'server', 'Retain As Published 1: forwarded messages keep the RETAIN flag the publisher set'),
    wire(
      'MQTT-3.3.2-1',
      'both',
      'The topic name leads the PUBLISH variable header as valid UTF-8; the server rejects one that is not',
    ),
    wire('MQTT-3.3.2-2', 'both', 'A PUBLISH topic name has no + or # characters; the server rejects one that does'),
    wire(
      'MQTT-3.3.2-3',
      'server',
      "Each PUBLISH the server forwards has a topic name matched by the subscriber's filter",
    ),
    wire('MQTT-3.3.2-4', 'server', 'Payload Format Indicator reaches every subscriber exactly as published'),
    wire(
      'MQTT-3.3.2-5',
      'server',
      'A queued copy whose Message Expiry Interval runs out before delivery starts is dropped',
    ),
    wire(
      'MQTT-3.3.2-6',
      'server',
      'A forwarded Message Expiry Interval is reduced by the time the message waited in the server',
    ),
    wire(
      'MQTT-3.3.2-7',
      'both',
      'Topic alias mappings end with the connection; the server does not honour one set on an earlier link',
      TOPIC_ALIASES,
    ),
    wire('MQTT-3.3.2-8', 'both', 'Topic Alias 0 is never sent; the server treats a PUBLISH carrying it as an error'),
    wire(
      'MQTT-3.3.2-9',
      'both',
      "Client Topic Alias values stay within the server's CONNACK maximum; the server rejects larger ones",
      TOPIC_ALIASES,
    ),
    clientOnly(
      'MQTT-3.3.2-10',
      'A client accepts every Topic Alias from 1 up to the maximum it declared in CONNECT',
      "Obliges the client's handling of aliases the server sends",
    ),
    wire(
      'MQTT-3.3.2-11',
      'server',
      "Topic Alias values in server PUBLISH packets never exceed the client's CONNECT maximum",
    ),
    wire(
      'MQTT-3.3.2-12',
      'server',
      'The server accepts every Topic Alias from 1 up to the maximum it declared in CONNACK',
      TOPIC_ALIASES,
    ),
    wire(
      'MQTT-3.3.2-13',
      'both',
      'Response Topic is a valid UTF-8 string; the server treats an invalid one as malformed',
    ),
    wire(
      'MQTT-3.3.2-14',
      'both',
      'Response Topic has no wildcard characters; the server rejects a PUBLISH whose Response Topic does',
    ),
    wire('MQTT-3.3.2-15', 'server', 'Response Topic reaches every subscriber exactly as published'),
    wire('MQTT-3.3.2-16', 'server', 'Correlation Data reaches every subscriber exactly as published'),
    wire('MQTT-3.3.2-17', 'server', 'Every User Property of a message is forwarded to subscribers unchanged'),
    wire('MQTT-3.3.2-18', 'server', 'User Properties keep their original order when forwarded'),
    wire(
      'MQTT-3.3.2-19',
      'both',
      'Content Type is a valid UTF-8 string; the server treats an invalid one as malformed',
    ),
    wire('MQTT-3.3.2-20', 'server', 'Content Type reaches every subscriber exactly as published'),
    wire('MQTT-3.3.4-1', 'both', 'The receiver of a PUBLISH answers as its QoS requires: nothing, PUBACK, or PUBREC'),
    wire(
      'MQTT-3.3.4-2',
      'server',
      'With overlapping subscriptions, delivery honours the highest QoS among the matching ones',
    ),
    wire(
      'MQTT-3.3.4-3',
      'server',
      'Subscription Identifiers of the overlapping subscriptions appear on the messages they cause',
    ),
    wire(
      'MQTT-3.3.4-4',
      'server',
      'A single copy for overlapping subscriptions lists every matching Subscription Identifier, in any order',
    ),
    wire(
      'MQTT-3.3.4-5',
      'server',
      "When each overlapping subscription gets its own copy, each copy carries that subscription's identifier",
    ),
    wire(
      'MQTT-3.3.4-6',
      'both',
      'Client PUBLISH packets carry no Subscription Identifier; the server treats one as a Protocol Error',
    ),
    wire(
      'MQTT-3.3.4-7',
      'both',
      "Clients keep within the server's Receive Maximum; the server answers an excess with DISCONNECT 0x93",
      RECEIVE_MAX,
    ),
    clientOnly(
      'MQTT-3.3.4-8',
      'A client with a full send quota keeps sending packets other than PUBLISH',
      "Obliges the client's flow control; the server's side is MQTT-3.3.4-10",
    ),
    wire(
      'MQTT-3.3.4-9',
      'server',
      "The server has no more unacknowledged QoS 1 and 2 PUBLISH in flight than the client's Receive Maximum",
    ),
    wire(
      'MQTT-3.3.4-10',
      'server',
      'With its send quota used up, the server still sends every packet other than PUBLISH without delay',
    ),
  ]),
  section('3.4', [
    wire('MQTT-3.4.2-1', 'both', 'PUBACK reason codes come only from the PUBACK reason code table'),
    wire(
      'MQTT-3.4.2-2',
      'both',
      "PUBACK omits its Reason String if including it would exceed the peer's Maximum Packet Size",
    ),
    wire(
      'MQTT-3.4.2-3',
      'both',
      "PUBACK omits User Properties if including them would exceed the peer's Maximum Packet Size",
    ),
  ]),
  section('3.5', [
    wire('MQTT-3.5.2-1', 'both', 'PUBREC reason codes come only from the PUBREC reason code table'),
    wire(
      'MQTT-3.5.2-2',
      'both',
      "PUBREC omits its Reason String if including it would exceed the peer's Maximum Packet Size",
    ),
    wire(
      'MQTT-3.5.2-3',
      'both',
      "PUBREC omits User Properties if including them would exceed the peer's Maximum Packet Size",
    ),
  ]),
  section('3.6', [
    wire(
      'MQTT-3.6.1-1',
      'both',
      'PUBREL fixed-header flags are 0010; the server treats other values as malformed and closes',
    ),
    wire('MQTT-3.6.2-1', 'both', 'PUBREL reason codes come only from the PUBREL reason code table'),
    wire(
      'MQTT-3.6.2-2',
      'both',
      "PUBREL omits its Reason String if including it would exceed the peer's Maximum Packet Size",
    ),
    wire(
      'MQTT-3.6.2-3',
      'both',
      "PUBREL omits User Properties if including them would exceed the peer's Maximum Packet Size",
    ),
  ]),
  section('3.7', [
    wire('MQTT-3.7.2-1', 'both', 'PUBCOMP reason codes come only from the PUBCOMP reason code table'),
    wire(
      'MQTT-3.7.2-2',
      'both',
      "PUBCOMP omits its Reason String if including it would exceed the peer's Maximum Packet Size",
    ),
    wire(
      'MQTT-3.7.2-3',
      'both',
      "PUBCOMP omits User Properties if including them would exceed the peer's Maximum Packet Size",
    ),
  ]),
  section('3.8', [
    wire(
      'MQTT-3.8.1-1',
      'both',
      'SUBSCRIBE fixed-header flags are 0010; the server treats other values as malformed and closes',
    ),
    wire(
      'MQTT-3.8.3-1',
      'both',
      'Topic filters in SUBSCRIBE are valid UTF-8 strings; the server treats an invalid one as malformed',
    ),
    wire(
      'MQTT-3.8.3-2',
      'both',
      'A SUBSCRIBE holds at least one filter and options pair; the server treats an empty one as an error',
    ),
    wire(
      'MQTT-3.8.3-3',
      'server',
      'No Local 1: the subscriber does not receive messages published under its own client id',
    ),
    wire(
      'MQTT-3.8.3-4',
      'both',
      'No Local on a shared subscription is a Protocol Error; the server closes the connection',
    ),
    wire(
      'MQTT-3.8.3-5',
      'both',
      'Non-zero reserved bits in subscription options make the SUBSCRIBE malformed; the server closes',
    ),
    wire('MQTT-3.8.4-1', 'server', 'The server answers every SUBSCRIBE with a SUBACK'),
    wire('MQTT-3.8.4-2', 'server', 'A SUBACK carries the packet identifier of the SUBSCRIBE it answers'),
    wire(
      'MQTT-3.8.4-3',
      'server',
      'Subscribing again with an identical non-shared filter replaces the existing subscription',
    ),
    wire(
      'MQTT-3.8.4-4',
      'server',
      'With Retain Handling 0 a replacing subscription gets retained messages again and loses no messages',
    ),
    wire(
      'MQTT-3.8.4-5',
      'server',
      'A SUBSCRIBE with several filters acts like one SUBSCRIBE per filter, answered by a single SUBACK',
    ),
    wire('MQTT-3.8.4-6', 'server', 'SUBACK has one reason code per filter and options pair requested'),
    wire('MQTT-3.8.4-7', 'server', 'Each SUBACK reason code is the granted maximum QoS or a failure code'),
    wire(
      'MQTT-3.8.4-8',
      'server',
      'A message reaches a subscriber at the lower of its published QoS and the QoS granted',
    ),
  ]),
  section('3.9', [
    wire(
      'MQTT-3.9.2-1',
      'server',
      "SUBACK omits its Reason String if including it would exceed the client's Maximum Packet Size",
    ),
    wire(
      'MQTT-3.9.2-2',
      'server',
      "SUBACK omits User Properties if including them would exceed the client's Maximum Packet Size",
    ),
    wire('MQTT-3.9.3-1', 'server', 'SUBACK reason codes are in the same order as the filters of the SUBSCRIBE'),
    wire('MQTT-3.9.3-2', 'server', 'SUBACK reason codes come only from the SUBACK reason code table, one per filter'),
  ]),
  section('3.10', [
    wire(
      'MQTT-3.10.1-1',
      'both',
      'UNSUBSCRIBE fixed-header flags are 0010; the server treats other values as malformed and closes',
    ),
    wire(
      'MQTT-3.10.3-1',
      'both',
      'Topic filters in UNSUBSCRIBE are valid UTF-8 strings; the server treats an invalid one as malformed',
    ),
    wire(
      'MQTT-3.10.3-2',
      'both',
      'An UNSUBSCRIBE names at least one filter; the server treats an empty one as an error',
    ),
    wire(
      'MQTT-3.10.4-1',
      'server',
      'UNSUBSCRIBE deletes a subscription only when its filter is exactly equal, wildcards compared literally',
    ),
    wire(
      'MQTT-3.10.4-2',
      'server',
      'After UNSUBSCRIBE no new messages matching the removed filters are queued for the client',
    ),
    wire('MQTT-3.10.4-3', 'server', 'QoS 1 and 2 deliveries under way for the removed filters are still completed'),
    wire('MQTT-3.10.4-4', 'server', 'The server answers every UNSUBSCRIBE with an UNSUBACK'),
    wire(
      'MQTT-3.10.4-5',
      'server',
      "UNSUBACK carries the UNSUBSCRIBE's packet identifier and is sent even if nothing was removed",
    ),
    wire(
      'MQTT-3.10.4-6',
      'server',
      'An UNSUBSCRIBE listing several filters is handled as one per filter but answered by one UNSUBACK',
    ),
  ]),
  section('3.11', [
    wire(
      'MQTT-3.11.2-1',
      'server',
      "UNSUBACK omits its Reason String if including it would exceed the client's Maximum Packet Size",
    ),
    wire(
      'MQTT-3.11.2-2',
      'server',
      "UNSUBACK omits User Properties if including them would exceed the client's Maximum Packet Size",
    ),
    wire('MQTT-3.11.3-1', 'server', 'UNSUBACK reason codes are in the same order as the filters of the UNSUBSCRIBE'),
    wire(
      'MQTT-3.11.3-2',
      'server',
      'UNSUBACK reason codes come only from the UNSUBACK reason code table, one per filter',
    ),
  ]),
  section('3.12', [wire('MQTT-3.12.4-1', 'server', 'The server answers each PINGREQ with a PINGRESP')]),
  section('3.14', [
    wire('MQTT-3.14.0-1', 'server', 'The server sends DISCONNECT only after a CONNACK with a reason code below 0x80'),
    wire(
      'MQTT-3.14.1-1',
      'both',
      'DISCONNECT reserved flags are zero; the server treats others as malformed (DISCONNECT 0x81)',
    ),
    wire('MQTT-3.14.2-1', 'both', 'DISCONNECT reason codes come only from the DISCONNECT reason code table'),
    wire('MQTT-3.14.2-2', 'server', 'A DISCONNECT from the server never carries a Session Expiry Interval'),
    wire(
      'MQTT-3.14.2-3',
      'both',
      "DISCONNECT omits its Reason String if including it would exceed the peer's Maximum Packet Size",
    ),
    wire(
      'MQTT-3.14.2-4',
      'both',
      "DISCONNECT omits User Properties if including them would exceed the peer's Maximum Packet Size",
    ),
    wire(
      'MQTT-3.14.4-1',
      'both',
      'Nothing follows a DISCONNECT on its connection; the server sends no packet after its own',
    ),
    wire(
      'MQTT-3.14.4-2',
      'both',
      'Whoever sends DISCONNECT then closes the connection; the server does so after its own DISCONNECT',
    ),
    wire('MQTT-3.14.4-3', 'server', 'DISCONNECT with reason 0x00 makes the server drop the will without publishing it'),
  ]),
  section('3.15', [
    wire(
      'MQTT-3.15.1-1',
      'both',
      'AUTH fixed-header flags are all zero; any other value is malformed and the receiver closes',
    ),
    wire('MQTT-3.15.2-1', 'both', 'AUTH reason codes come only from the AUTH reason code table', ENHANCED_AUTH),
    wire(
      'MQTT-3.15.2-2',
      'both',
      "AUTH omits its Reason String if including it would exceed the peer's Maximum Packet Size",
      ENHANCED_AUTH,
    ),
    wire(
      'MQTT-3.15.2-3',
      'both',
      "AUTH omits User Properties if including them would exceed the peer's Maximum Packet Size",
      ENHANCED_AUTH,
    ),
  ]),
  section('4.1', [
    wire('MQTT-4.1.0-1', 'both', 'The server keeps session state intact for as long as the connection is open'),
    wire(
      'MQTT-4.1.0-2',
      'server',
      'After the connection closes and its Session Expiry Interval runs out, the server discards the session',
    ),
  ]),
  section('4.2', [
    wire(
      'MQTT-4.2-1',
      'both',
      'Server and client run over at least one ordered, lossless byte-stream transport such as TCP',
    ),
  ]),
  section('4.3', [
    wire('MQTT-4.3.1-1', 'both', 'A QoS 0 message goes out as a PUBLISH with QoS 0 and DUP 0'),
    wire('MQTT-4.3.2-1', 'both', 'A QoS 1 sender gives each new message a packet identifier not in use'),
    wire('MQTT-4.3.2-2', 'both', 'A QoS 1 message first goes out with QoS 1, DUP 0 and its identifier'),
    wire(
      'MQTT-4.3.2-3',
      'both',
      'A QoS 1 sender treats the message as unacknowledged until the matching PUBACK arrives',
    ),
    wire('MQTT-4.3.2-4', 'both', 'A QoS 1 receiver takes ownership and answers with a PUBACK echoing the identifier'),
    wire(
      'MQTT-4.3.2-5',
      'both',
      'After sending PUBACK, a QoS 1 receiver treats a PUBLISH reusing the identifier as new, DUP or not',
    ),
    wire('MQTT-4.3.3-1', 'both', 'A QoS 2 sender gives each new message a packet identifier not in use'),
    wire('MQTT-4.3.3-2', 'both', 'A QoS 2 message first goes out with QoS 2, DUP 0 and its identifier'),
    wire(
      'MQTT-4.3.3-3',
      'both',
      'A QoS 2 sender treats the PUBLISH as unacknowledged until the matching PUBREC arrives',
    ),
    wire('MQTT-4.3.3-4', 'both', 'A PUBREC below 0x80 is answered with a PUBREL echoing the original identifier'),
    wire(
      'MQTT-4.3.3-5',
      'both',
      'A QoS 2 sender treats its PUBREL as unacknowledged until the matching PUBCOMP arrives',
    ),
    wire('MQTT-4.3.3-6', 'both', 'Once PUBREL is sent, the QoS 2 sender never sends that PUBLISH again'),
    wire('MQTT-4.3.3-7', 'both', 'A QoS 2 message already sent is not expired by its sender; its flow is completed'),
    wire('MQTT-4.3.3-8', 'both', 'A QoS 2 receiver takes ownership and answers with a PUBREC echoing the identifier'),
    wire(
      'MQTT-4.3.3-9',
      'both',
      'After a failing PUBREC (0x80 or more), a PUBLISH reusing that identifier is a new message',
      REFUSES_QOS2,
    ),
    wire(
      'MQTT-4.3.3-10',
      'both',
      'Until PUBREL, repeats of a QoS 2 PUBLISH get PUBREC again but are not delivered onward twice',
    ),
    wire('MQTT-4.3.3-11', 'both', 'A PUBREL is answered with a PUBCOMP echoing its identifier'),
    wire(
      'MQTT-4.3.3-12',
      'both',
      'After sending PUBCOMP, the receiver treats a PUBLISH reusing the identifier as a new message',
    ),
    wire(
      'MQTT-4.3.3-13',
      'both',
      'A QoS 2 receiver finishes the acknowledgement flow even for a message it has expired',
    ),
  ]),
  section('4.4', [
    wire(
      'MQTT-4.4.0-1',
      'both',
      'Unacknowledged PUBLISH and PUBREL are resent with original ids on resuming a session, and at no other time',
    ),
    wire(
      'MQTT-4.4.0-2',
      'both',
      'A PUBLISH acknowledged with PUBACK or PUBREC of 0x80 or more is settled and never sent again',
    ),
  ]),
  section('4.5', [
    wire(
      'MQTT-4.5.0-1',
      'server',
      'A message the server takes ownership of is added to the session of each client with a matching subscription',
    ),
    clientOnly(
      'MQTT-4.5.0-2',
      'A client acknowledges every PUBLISH as its QoS requires, even one it decides not to process',
      "Obliges the client's acknowledgement of messages it receives",
    ),
  ]),
  section('4.6', [
    clientOnly('MQTT-4.6.0-1', 'A client resends QoS 1 and 2 PUBLISH packets in their original order', CLIENT_ORDERING),
    clientOnly(
      'MQTT-4.6.0-2',
      'A client sends its PUBACKs in the order the QoS 1 PUBLISH packets arrived',
      CLIENT_ORDERING,
    ),
    clientOnly(
      'MQTT-4.6.0-3',
      'A client sends its PUBRECs in the order the QoS 2 PUBLISH packets arrived',
      CLIENT_ORDERING,
    ),
    clientOnly('MQTT-4.6.0-4', 'A client sends its PUBRELs in the order the PUBRECs arrived', CLIENT_ORDERING),
    wire(
      'MQTT-4.6.0-5',
      'server',
      "For an ordered topic, each publisher's messages reach subscribers in arrival order, per topic and QoS",
    ),
    wire(
      'MQTT-4.6.0-6',
      'server',
      'Unless configured otherwise, topics on non-shared subscriptions are treated as ordered',
    ),
  ]),
  section('4.7', [
    wire('MQTT-4.7.0-1', 'both', 'Wildcards belong in topic filters only; a topic name containing one is rejected'),
    wire(
      'MQTT-4.7.1-1',
      'both',
      '# stands alone or after a /, and ends the filter; the server refuses a filter that misplaces it',
    ),
    wire(
      'MQTT-4.7.1-2',
      'both',
      '+ fills a whole filter level, at any position; the server refuses a filter that mixes it into a level',
    ),
    wire('MQTT-4.7.2-1', 'server', 'Filters beginning with # or + never match topic names beginning with $'),
    wire(
      'MQTT-4.7.3-1',
      'both',
      'Topic names and filters are never empty (an alias-only PUBLISH aside); the server refuses an empty one',
    ),
    wire('MQTT-4.7.3-2', 'both', 'Topic names and filters never contain U+0000; the server refuses one that does'),
    unobservable(
      'MQTT-4.7.3-3',
      'both',
      'Topic names and filters fit in 65,535 bytes of UTF-8',
      'The two-byte length prefix cannot express a longer string, so there is no breach to send or see',
    ),
    wire(
      'MQTT-4.7.3-4',
      'server',
      'Matching compares topics as sent, without normalising or substituting any characters',
    ),
  ]),
  section('4.8', [
    wire(
      'MQTT-4.8.2-1',
      'both',
      'A shared filter starts with $share/ and a non-empty share name; the server refuses malformed ones',
    ),
    wire(
      'MQTT-4.8.2-2',
      'both',
      'The share name has no /, + or #, and a / then a topic filter follow it; the server refuses others',
    ),
    wire(
      'MQTT-4.8.2-3',
      'server',
      "Shared-subscription deliveries respect the QoS granted to the receiving client's subscription",
    ),
    wire(
      'MQTT-4.8.2-4',
      'server',
      'A QoS 2 delivery to a shared subscriber cut off mid-flow is completed when that client reconnects',
    ),
    wire(
      'MQTT-4.8.2-5',
      'server',
      "If that client's session ends before it reconnects, the message is not passed to another subscriber",
    ),
    wire(
      'MQTT-4.8.2-6',
      'server',
      'A shared message refused with PUBACK or PUBREC 0x80 or more is dropped, not offered to other subscribers',
    ),
  ]),
  section('4.9', [
    wire('MQTT-4.9.0-1', 'both', "The send quota starts at a non-zero value no larger than the peer's Receive Maximum"),
    wire('MQTT-4.9.0-2', 'both', 'Each QoS>0 PUBLISH uses up quota; at zero the sender sends no more QoS>0 PUBLISH'),
    wire('MQTT-4.9.0-3', 'both', 'With zero quota, all other packets are still processed and answered'),
  ]),
  section('4.12', [
    wire(
      'MQTT-4.12.0-1',
      'server',
      'An unsupported Authentication Method ends the connection, optionally after CONNACK 0x8C or 0x87',
    ),
    wire(
      'MQTT-4.12.0-2',
      'server',
      'An AUTH the server sends to ask for more authentication data has reason code 0x18',
      ENHANCED_AUTH,
    ),
    wire(
      'MQTT-4.12.0-3',
      'both',
      "A client answers the server's AUTH with AUTH 0x18; the server treats another code as a Protocol Error",
      ENHANCED_AUTH,
    ),
    wire(
      'MQTT-4.12.0-4',
      'server',
      'A server rejecting authentication at any step closes the connection, optionally after a failing CONNACK',
      ENHANCED_AUTH,
    ),
    wire(
      'MQTT-4.12.0-5',
      'server',
      'After a CONNECT with an Authentication Method, every AUTH and a successful CONNACK repeat that method',
      ENHANCED_AUTH,
    ),
    wire(
      'MQTT-4.12.0-6',
      'server',
      'Without an Authentication Method in CONNECT, the server sends no AUTH and no method in CONNACK',
    ),
    wire(
      'MQTT-4.12.0-7',
      'both',
      'A client that sent no Authentication Method sends no AUTH; the server treats one as a Protocol Error',
    ),
    wire(
      'MQTT-4.12.1-1',
      'both',
      'Re-authentication uses the method the connection authenticated with; the server rejects another',
      ENHANCED_AUTH,
    ),
    wire(
      'MQTT-4.12.1-2',
      'both',
      'A failed re-authentication closes the connection, with a DISCONNECT advised first',
      ENHANCED_AUTH,
    ),
  ]),
  section('4.13', [
    wire(
      'MQTT-4.13.1-1',
      'server',
      'A Malformed Packet or Protocol Error with a specified reason code makes the server close the connection',
    ),
    wire(
      'MQTT-4.13.2-1',
      'server',
      'A CONNACK or DISCONNECT reason code of 0x80 or more means the connection closes, sent or not',
    ),
  ]),
  section('6', [
    wire(
      'MQTT-6.0.0-1',
      'both',
      'Over WebSocket, MQTT travels in binary frames; any other data frame makes the receiver close',
      WEBSOCKET,
    ),
    wire(
      'MQTT-6.0.0-2',
      'both',
      'Over WebSocket, packets may be split across or packed into frames; the receiver reassembles them',
      WEBSOCKET,
    ),
    clientOnly(
      'MQTT-6.0.0-3',
      'A WebSocket client offers "mqtt" among its subprotocols',
      "Obliges the client's WebSocket handshake",
    ),
    wire('MQTT-6.0.0-4', 'server', 'The WebSocket subprotocol the server selects is "mqtt"', WEBSOCKET),
  ]),
];

function buildStatements(version: MqttVersion, sections: readonly Section[]): Statement[] {
  const titles = CHAPTER_TITLES[version];
  const out: Statement[] = [];
  for (const { chapter, rows } of sections) {
    const title = titles[chapter];
    if (title === undefined) throw new Error(`MQTT ${version}: chapter ${chapter} has no title`);
    for (const row of rows) out.push(Object.freeze({ ...row, version, chapter, title }));
  }
  return out;
}

const BY_VERSION: Readonly<Record<MqttVersion, readonly Statement[]>> = {
  '3.1.1': Object.freeze(buildStatements('3.1.1', V311)),
  '5.0': Object.freeze(buildStatements('5.0', V5)),
};

/** Every statement of both versions: MQTT 3.1.1 first, each version in chapter order. */
export const STATEMENTS: readonly Statement[] = Object.freeze([...BY_VERSION['3.1.1'], ...BY_VERSION['5.0']]);

const BY_KEY = new Map<string, Statement>(STATEMENTS.map((s) => [keyOf(s.id, s.version), s]));

function keyOf(id: string, version: MqttVersion): string {
  return `${version} ${id}`;
}

export class UnknownStatementError extends Error {
  readonly code = 'UNKNOWN_STATEMENT';
  constructor(id: string, version: MqttVersion, hint: string | undefined) {
    super(`MQTT ${version} has no normative statement ${id}${hint === undefined ? '' : ` (did you mean ${hint}?)`}`);
  }
}

/** The statements of one version, in chapter order. */
export function statementsFor(version: MqttVersion): readonly Statement[] {
  return BY_VERSION[version];
}

/** The statement with this id in this version, or undefined. */
export function findStatement(id: string, version: MqttVersion): Statement | undefined {
  return BY_KEY.get(keyOf(id, version));
}

/** The statement with this id in this version; throws UnknownStatementError (with a likely intended id) if none. */
export function statement(id: string, version: MqttVersion): Statement {
  const found = BY_KEY.get(keyOf(id, version));
  if (found !== undefined) return found;
  throw new UnknownStatementError(id, version, suggest(id, BY_VERSION[version].map((s) => s.id)));
}
