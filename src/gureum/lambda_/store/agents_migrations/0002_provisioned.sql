-- Each agent's provisioned environments by version key (busy or idle): where a front door
-- sends a version's invocations first (gureum.lambda_.domain.placement).
ALTER TABLE agents ADD COLUMN provisioned TEXT NOT NULL DEFAULT '{}';
