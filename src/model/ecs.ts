/**
 * ECS documents as keysentry builds and reads them.
 *
 * `EcsDocument` is what the rule engine evaluates: any JSON object, because an ECS NDJSON
 * export may carry fields keysentry never fills and a rule may read them. `EcsProcessEvent`
 * is the shape keysentry itself produces for an exec.
 */

export type EcsValue = string | number | boolean | null | EcsValue[] | EcsObject;
export interface EcsObject {
  [field: string]: EcsValue | undefined;
}
export type EcsDocument = EcsObject;

export interface EcsCodeSignature {
  exists?: boolean;
  trusted?: boolean;
  signing_id?: string;
  team_id?: string;
  /** ES is_platform_binary (Apple-signed system binary). */
  is_platform_binary?: boolean;
}

export interface EcsProcessParent {
  pid?: number;
  entity_id?: string;
  executable?: string;
  name?: string;
  args?: string[];
  args_count?: number;
  command_line?: string;
  code_signature?: EcsCodeSignature;
}

export interface EcsProcess extends EcsProcessParent {
  pid: number;
  entity_id: string;
  executable: string;
  name: string;
  args: string[];
  args_count: number;
  command_line: string;
  working_directory?: string;
  parent?: EcsProcessParent;
  Ext?: {
    effective_parent?: { executable?: string; name?: string; pid?: number; entity_id?: string };
  };
}

export interface EcsProcessEvent {
  '@timestamp': string;
  event: {
    kind: 'event';
    category: ['process'];
    type: string[];
    action: 'exec';
    id?: string;
    sequence?: number;
  };
  host: { hostname?: string; id?: string; os: { type: string } };
  process: EcsProcess;
  user?: { id?: string; name?: string; effective?: { id?: string; name?: string } };
  /** Normalized views of the event added by keysentry's enrichment (see docs/normalization.md). */
  keysentry?: EcsObject;
}
