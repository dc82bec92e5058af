export { Overlay, runCommand, type OverlayOptions, type Runner } from './overlay';
