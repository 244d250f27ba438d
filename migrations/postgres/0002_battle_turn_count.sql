-- Each battle's number of turns, kept by the database itself. Mirrors
-- migrations/sqlite/0002_battle_turn_count.sql.
--
-- The research export writes a `turn` column per battle; counting the turns
-- with a subquery per vote cost an index probe per row. The trigger keeps
-- the count exact whoever inserts turns (the battle routes, `arena import`).

ALTER TABLE battles ADD COLUMN turn_count BIGINT NOT NULL DEFAULT 0 CHECK (turn_count >= 0);

UPDATE battles b SET turn_count = t.n
FROM (SELECT battle_id, COUNT(*) AS n FROM turns GROUP BY battle_id) t
WHERE t.battle_id = b.id;

CREATE FUNCTION battles_count_turns() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE battles SET turn_count = turn_count + 1 WHERE id = NEW.battle_id;
    ELSE
        UPDATE battles SET turn_count = turn_count - 1 WHERE id = OLD.battle_id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER turns_count AFTER INSERT OR DELETE ON turns
FOR EACH ROW EXECUTE FUNCTION battles_count_turns();
