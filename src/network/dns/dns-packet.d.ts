// The part of dns-packet 5 (no bundled types) that the embedded DNS server uses.
declare module 'dns-packet' {
  export interface Question {
    name: string;
    type: string;
    class?: string;
  }
  export interface Answer {
    name: string;
    type: string;
    class?: string;
    ttl?: number;
    flush?: boolean;
    data?: unknown;
    udpPayloadSize?: number;
  }
  export interface Packet {
    id?: number;
    type?: 'query' | 'response';
    flags?: number;
    rcode?: string;
    questions?: Question[];
    answers?: Answer[];
    authorities?: Answer[];
    additionals?: Answer[];
  }
  export function encode(p: Packet): Buffer;
  export function decode(buf: Buffer): Packet & { flag_qr?: boolean; flag_aa?: boolean; flag_rd?: boolean; flag_ra?: boolean; flag_tc?: boolean };
  export const RECURSION_DESIRED: number;
  export const RECURSION_AVAILABLE: number;
  export const TRUNCATED_RESPONSE: number;
  export const AUTHORITATIVE_ANSWER: number;
}
