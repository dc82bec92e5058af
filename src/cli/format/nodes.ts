// `docker node ls` rows (the docker CLI's node formatter).
import type { Node } from '../../types';
import { naturalCompare } from './objects';
import { formatList, type RowContext } from './template';
import { capitalize } from './text';

export type ApiNode = Omit<Node, 'internal'>;

/** The docker CLI's default `node ls` format (a `*` after the calling node's ID) and its column titles. */
export const NODE_TABLE = 'table {{.ID}} {{if .Self}}*{{else}} {{ end }}\t{{.Hostname}}\t{{.Status}}\t{{.Availability}}\t{{.ManagerStatus}}\t{{.EngineVersion}}';
export const NODE_HEADER = {
  ID: 'ID',
  Self: '',
  Hostname: 'HOSTNAME',
  Status: 'STATUS',
  Availability: 'AVAILABILITY',
  ManagerStatus: 'MANAGER STATUS',
  EngineVersion: 'ENGINE VERSION',
  TLSStatus: 'TLS STATUS',
};

/** MANAGER STATUS: Leader, Reachable, Unreachable, or empty for a worker. */
export function managerStatusText(n: ApiNode): string {
  if (!n.ManagerStatus) return '';
  if (n.ManagerStatus.Leader) return 'Leader';
  return capitalize(n.ManagerStatus.Reachability);
}

type TlsInfo = { TrustRoot?: string; CertIssuerSubject?: string; CertIssuerPublicKey?: string } | undefined;

const tlsEmpty = (t: TlsInfo) => !t || (!t.TrustRoot && !t.CertIssuerSubject && !t.CertIssuerPublicKey);

/** TLS STATUS: Ready when the node's certificate issuer is the cluster's, Needs Rotation if not, Unknown without data. */
export function tlsStatusText(node: TlsInfo, cluster: TlsInfo): string {
  if (tlsEmpty(node) || tlsEmpty(cluster)) return 'Unknown';
  const same = node!.TrustRoot === cluster!.TrustRoot && node!.CertIssuerSubject === cluster!.CertIssuerSubject && node!.CertIssuerPublicKey === cluster!.CertIssuerPublicKey;
  return same ? 'Ready' : 'Needs Rotation';
}

/** One template row per node, in `sortorder.NaturalLess` order of the hostnames. */
export function nodeRows(nodes: readonly ApiNode[], selfId: string, clusterTls?: TlsInfo): RowContext[] {
  return [...nodes]
    .sort((a, b) => naturalCompare(a.Description?.Hostname ?? '', b.Description?.Hostname ?? ''))
    .map((n) => ({
      ID: n.ID,
      Self: n.ID === selfId,
      Hostname: n.Description?.Hostname ?? '',
      Status: capitalize(n.Status?.State ?? ''),
      Availability: capitalize(n.Spec.Availability),
      ManagerStatus: managerStatusText(n),
      EngineVersion: n.Description?.Engine?.EngineVersion ?? '',
      TLSStatus: tlsStatusText((n.Description as { TLSInfo?: TlsInfo } | undefined)?.TLSInfo, clusterTls),
    }));
}

export const formatNodeTable = (nodes: readonly ApiNode[], selfId: string): string => formatList(NODE_TABLE, nodeRows(nodes, selfId), NODE_HEADER);
