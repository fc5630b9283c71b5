-- Planned functions of planning zones (chức năng sử dụng đất quy hoạch), kept as data: code,
-- group, titles vi/en, map colour (the planning palette, not the cadastral land-use palette),
-- and the land-use codes (TT 27/2018, TT 08/2024) that zones recorded before this list existed
-- carry for the same function. Styles, legends, the portal, the sheet and the import check read
-- this table; editing it notifies `bando_catalog_changes` and running servers restyle.
--
-- WORKING LIST, TO CHECK AGAINST THE CIRCULAR: TT 04/2022/TT-BXD (hồ sơ nhiệm vụ và đồ án quy
-- hoạch) prescribes the symbols and colours of planning drawings in its annexes; its text was
-- not at hand when this list was written. The codes below are the functional groups the
-- circular names (residential existing/new, public services with education, health, culture,
-- sports, green space and parks, commercial and services, mixed use, industry and warehousing,
-- technical infrastructure, transport, religion, defence and security, agriculture, water) with
-- the abbreviations common on Vietnamese zoning plans; the colours are a palette of this
-- project's choosing in the spirit of those drawings. Correct codes, titles and colours here
-- (a later migration, or UPDATE — servers follow) once checked.
CREATE TABLE planning.zone_functions (
    code text PRIMARY KEY CHECK (code ~ '^[A-Z][A-Z0-9]{0,9}$'),
    fn_group text NOT NULL CHECK (fn_group IN ('residential', 'public', 'green', 'commercial',
        'mixed', 'industry', 'infrastructure', 'transport', 'religion', 'defence', 'agriculture',
        'water')),
    title_vi text NOT NULL CHECK (title_vi <> '' AND title_vi IS NFC NORMALIZED),
    title_en text NOT NULL CHECK (title_en <> ''),
    colour text NOT NULL CHECK (colour ~ '^#[0-9a-f]{6}$'),
    -- Land-use codes read as this function (zones imported with a land-use code).
    land_use_codes text[] NOT NULL DEFAULT '{}',
    sort smallint NOT NULL
);

-- A land-use code names one function only, and never shadows a function code.
CREATE FUNCTION planning.zone_functions_check() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE clash text;
BEGIN
    SELECT a INTO clash
    FROM (SELECT code, unnest(land_use_codes) AS a FROM planning.zone_functions) u
    GROUP BY a HAVING count(*) > 1 OR a IN (SELECT code FROM planning.zone_functions)
    LIMIT 1;
    IF clash IS NOT NULL THEN
        RAISE EXCEPTION 'land-use code % names more than one planned function (or is a function code)', clash;
    END IF;
    PERFORM pg_notify('bando_catalog_changes', json_build_object('op', 'zone_functions')::text);
    RETURN NULL;
END $$;

INSERT INTO planning.zone_functions (code, fn_group, title_vi, title_en, colour, land_use_codes, sort) VALUES
 ('O',    'residential',    'Đất ở',                          'Residential',                      '#f7c47f', '{ODT,ONT}', 10),
 ('OHT',  'residential',    'Đất ở hiện trạng',               'Existing residential',             '#f0a04b', '{}', 11),
 ('OM',   'residential',    'Đất ở mới',                      'New residential',                  '#ffe066', '{}', 12),
 ('CC',   'public',         'Đất công cộng',                  'Public services',                  '#e8506a', '{DXH,DKH,DNG,DSK}', 20),
 ('CQ',   'public',         'Đất cơ quan, trụ sở',            'Offices of public bodies',         '#c0392b', '{TSC,DTS}', 21),
 ('GD',   'public',         'Đất giáo dục',                   'Education',                        '#f28cb8', '{DGD}', 22),
 ('YT',   'public',         'Đất y tế',                       'Health',                           '#d62f7f', '{DYT}', 23),
 ('VH',   'public',         'Đất văn hoá',                    'Culture',                          '#a4379e', '{DVH,DDT}', 24),
 ('TDTT', 'public',         'Đất thể dục thể thao',           'Sports',                           '#5fbf9f', '{DTT}', 25),
 ('CX',   'green',          'Đất cây xanh, công viên',        'Green space and parks',            '#2e9e44', '{DKV}', 30),
 ('TMDV', 'commercial',     'Đất thương mại, dịch vụ',        'Commercial and services',          '#ff7b54', '{TMD,DCH}', 40),
 ('HH',   'mixed',          'Đất hỗn hợp',                    'Mixed use',                        '#b07fd6', '{}', 50),
 ('CN',   'industry',       'Đất công nghiệp',                'Industry',                         '#8c7ae6', '{SKK,SKN,SKC,SKS,SKX}', 60),
 ('KT',   'industry',       'Đất kho tàng',                   'Warehousing',                      '#5b5fa8', '{}', 61),
 ('HTKT', 'infrastructure', 'Đất hạ tầng kỹ thuật',           'Technical infrastructure',         '#8fa8bf', '{DTL,DNL,DBV,DRA,DCT,DKT,DSH,NTD}', 70),
 ('GT',   'transport',      'Đất giao thông',                 'Transport',                        '#cfcfcf', '{DGT}', 80),
 ('TG',   'religion',       'Đất tôn giáo, tín ngưỡng',       'Religion and worship',             '#a0522d', '{TON,TIN}', 90),
 ('ANQP', 'defence',        'Đất an ninh, quốc phòng',        'Defence and security',             '#556b2f', '{CQP,CAN}', 100),
 ('NN',   'agriculture',    'Đất nông nghiệp',                'Agriculture',                      '#c7e9a0', '{LUC,LUK,LUN,BHK,NHK,HNK,CLN,RSX,RPH,RDD,NTS,NKH,LMU,CNT}', 110),
 ('MN',   'water',          'Mặt nước',                       'Water surface',                    '#74c0e8', '{MNC,SON}', 120);

CREATE TRIGGER zone_functions_checked AFTER INSERT OR UPDATE OR DELETE ON planning.zone_functions
    FOR EACH STATEMENT EXECUTE FUNCTION planning.zone_functions_check();

-- Floor area ratio (hệ số sử dụng đất), beside density, floors, height and setback.
ALTER TABLE planning.zones ADD COLUMN IF NOT EXISTS far double precision CHECK (far >= 0);
