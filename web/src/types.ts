// Shapes of the API answers the console reads.

export interface Me {
  id: string | null;
  name: string;
  prefix?: string;
  scopes: string[];
}

export type JobStatus = "pending" | "running" | "cancelling" | "completed" | "failed" | "cancelled";

export interface JobSummary {
  id: string;
  status: JobStatus;
  display_name: string;
  model: string | null;
  created_at: string | null;
  started_at: string | null;
  completed_at: string | null;
  audio_duration_seconds: number | null;
  error: string | null;
}

export interface JobList {
  jobs: JobSummary[];
  cursor: string | null;
  has_more: boolean;
}

export interface Stage {
  stage: string;
  task_id: string;
  status: string;
  required: boolean;
  dependencies: string[];
  progress: number;
  attempts: number;
  retries: number;
  ready_at: string | null;
  started_at: string | null;
  completed_at: string | null;
  wait_ms: number | null;
  duration_ms: number | null;
  error: string | null;
}

export interface Word {
  text: string;
  start: number;
  end: number;
  confidence: number | null;
  speaker: string | null;
}

export interface Segment {
  id: string;
  start: number;
  end: number;
  text: string;
  speaker: string | null;
  words: Word[];
}

export interface Speaker {
  id: string;
  channel: number | null;
  talk_time_secs: number;
}

export interface JobParameters {
  model: string | null;
  language: string | null;
  timestamps_granularity: string;
  speaker_detection: string;
  num_speakers: number | null;
  min_speakers: number | null;
  max_speakers: number | null;
  vocabulary: string[];
  prompt: string | null;
  retention_days: number | null;
  display_name: string | null;
  webhook_url: string | null;
}

export interface Job extends JobSummary {
  progress: number;
  current_stage: string | null;
  parameters: JobParameters;
  audio: {
    duration_seconds: number | null;
    channels: number | null;
    sample_rate: number | null;
    format: string | null;
    size_bytes: number | null;
    available: boolean;
  };
  warnings: string[];
  stages: Stage[];
  text?: string;
  language_code?: string;
  segments?: Segment[];
  words?: Word[];
  speakers?: Speaker[];
}

export interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  created_at: string | null;
  last_used_at: string | null;
  is_revoked: boolean;
  is_current: boolean;
  key?: string;
}

export interface Webhook {
  id: string;
  url: string;
  events: string[];
  description: string | null;
  active: boolean;
  consecutive_failures: number;
  created_at: string | null;
  updated_at: string | null;
  secret?: string;
}

export interface Delivery {
  id: string;
  job_id: string | null;
  event: string;
  status: string;
  attempts: number;
  next_attempt_at: string | null;
  last_status_code: number | null;
  last_error: string | null;
  created_at: string | null;
  updated_at: string | null;
}

export interface Dashboard {
  version: string;
  uptime_secs: number;
  queue: { stage: string; queued: number; running: number }[];
  jobs: Record<string, number>;
  error_rate: { window: number; finished: number; failed: number; rate: number | null };
  engines: {
    engine_id: string;
    stage: string;
    models: string[];
    worker_id: string;
    last_heartbeat_at: string | null;
    alive: boolean;
  }[];
  realtime: { active_sessions: number; capacity: number } | null;
}

export interface Model {
  id: string;
  default?: boolean;
  alias_of?: string;
}
