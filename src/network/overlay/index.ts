export { Overlay, runCommand, type OverlayOptions, type PreparedNetworks, type Runner } from './overlay';
