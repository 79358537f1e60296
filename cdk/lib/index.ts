export { AutopilotCode } from './code';
export { AutopilotHub, AutopilotHubProps, SlackSeverity } from './hub';
export { AutopilotSpoke, AutopilotSpokeProps } from './spoke';
